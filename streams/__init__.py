"""camguard: resilience and privacy layer for camera-analytics platforms on Kafka."""
