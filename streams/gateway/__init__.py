"""The camera gateway: frame sources, JPEG coding, Frame/CameraEvent production, stats web."""
