"""One frozen settings class for every camguard process.

Values come from the environment with the prefix ``CAMGUARD_`` (``CAMGUARD_BROKER``,
``CAMGUARD_WEB_PORT`` ...) or from keyword arguments. Nothing reads the environment at import
time: an entry point builds ``Settings()`` once and passes it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.exceptions import CamguardError

# Default score thresholds, shared by Settings, the privacy policy and BlurConfig. Chosen on
# the DEV split of tests/models/REALPHOTOS.md and the synthetic composites, never on REPORT:
# faces 0.3 is the lowest threshold whose DEV false positives equal 0.4's (2; 0.25 gives 4,
# 0.2 gives 13) and it finds 18-22 px composite faces that 0.4 misses (20 px: 10/10 vs 5/10
# at 720p). Plates 0.5: on DEV neither plate model finds more below it and the YOLOv8 model
# adds a false positive at 0.3, so both models share one threshold.
FACE_SCORE_THRESHOLD = 0.3
PLATE_SCORE_THRESHOLD = 0.5


def default_cache_dir() -> Path:
    """Where fetched jars and model files live (outside the repository)."""
    return Path.home() / ".cache" / "camguard"


# State (Faust tables, the gateway's spool) lives under var/ in the working directory, as
# Faust's own default data dir does: two processes started in different directories never share
# a RocksDB or spool lock by accident, `make clean` removes it in a checkout, and a container
# sets CAMGUARD_DATA_DIR / CAMGUARD_SPOOL_DIR to its volume. The cache above holds only what
# can be fetched again. ensure_state_dir creates either folder with its parents at start.
DEFAULT_DATA_DIR = Path("var/camguard")
DEFAULT_SPOOL_DIR = Path("var/spool")


class StateDirError(CamguardError):
    """A data or spool folder cannot be created.

    Start camguard in a writable directory or set the variable named in the message
    (CAMGUARD_DATA_DIR, CAMGUARD_SPOOL_DIR) to a writable folder, such as a volume.
    """

    reason = "state_dir"


def ensure_state_dir(path: Path, variable: str) -> Path:
    """Create ``path`` with its parents (a no-op when it exists); the absolute path."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(
            f"cannot create {path.absolute()} ({exc.strerror}): set {variable} to a writable folder"
        ) from exc
    return path.absolute()


class Settings(BaseSettings):
    """Configuration of a camguard worker, gateway or command."""

    model_config = SettingsConfigDict(env_prefix="CAMGUARD_", frozen=True, extra="ignore")

    # --- Kafka / Faust -------------------------------------------------------------------
    app_id: str = "camguard"
    broker: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Faust broker URL(s); KAFKA_BOOTSTRAP_SERVERS is not read here on purpose.",
    )
    store: str = Field(default="rocksdb://", description="Table store: rocksdb:// or memory://")
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Faust data directory (relative: to the cwd)"
    )
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    faust_sensors: bool = Field(
        default=False,
        description="Faust's per-message Prometheus sensors on /metrics (about 30% of events/s)",
    )
    shutdown_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="after SIGTERM/SIGINT the worker exits within this time even if Faust's "
        "shutdown is stuck (uncommitted work is replayed by the next owner); 0 = no limit",
    )
    gc_freeze: bool = Field(
        default=True,
        description="freeze start-up objects out of the cyclic GC once the worker is ready",
    )
    gc_gen0_threshold: int = Field(
        default=10_000, ge=0, description="cyclic GC young threshold (0 = Python's 700)"
    )
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    table_standby_replicas: int = Field(default=0, ge=0)
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    consumer_auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    broker_commit_interval_s: float = Field(default=2.8, gt=0)
    frames_retention_ms: int = Field(default=3_600_000, description="camera.frames retention")
    audit_retention_ms: int = Field(default=90 * 24 * 3_600_000)

    # --- Kafka security (TLS / SASL; mapped to clients by streams/kafka_security.py) ----------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how every Kafka client (worker, gateway, CLI) connects"
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM CA bundle that signed the broker's certificate (SSL, SASL_SSL); "
        "unset = the system's trusted CAs",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate (mutual TLS); may hold the key too"
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, description="PEM key of the certificate")
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="the broker's certificate must name the host connected to"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_connect_check_s: float = Field(
        default=15.0, gt=0, description="longest start-up check of TLS and SASL against the broker"
    )

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Settings:
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        tls = protocol in ("SSL", "SASL_SSL")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"kafka_security_protocol={protocol} needs CAMGUARD_KAFKA_SASL_USERNAME and "
                "CAMGUARD_KAFKA_SASL_PASSWORD"
            )
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError(
                f"SASL credentials are set but kafka_security_protocol={protocol} would not send "
                "them: use SASL_SSL (or SASL_PLAINTEXT)"
            )
        files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not tls and any(files):
            raise ValueError(
                f"TLS files are set but kafka_security_protocol={protocol} does not use TLS: "
                "use SSL or SASL_SSL"
            )
        if (self.kafka_ssl_keyfile or self.kafka_ssl_key_password) and not self.kafka_ssl_certfile:
            raise ValueError("kafka_ssl_keyfile needs kafka_ssl_certfile (the client certificate)")
        return self

    # --- end Kafka security ------------------------------------------------------------------

    # --- health / breakers ---------------------------------------------------------------
    health_publish_interval_s: float = Field(default=30.0, gt=0)
    offline_after_s: float = Field(default=60.0, gt=0)
    online_after_frames: int = Field(default=3, ge=1)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_recovery_timeout_s: float = Field(default=60.0, gt=0)
    breaker_success_threshold: int = Field(default=3, ge=1)
    breaker_failure_rate_threshold: float | None = Field(default=None, gt=0, le=1)
    breaker_window_size: int = Field(default=20, ge=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_slow_call_ms: float | None = Field(default=None, gt=0)
    breaker_backoff_multiplier: float = Field(default=2.0, ge=1)
    breaker_max_recovery_timeout_s: float = Field(default=600.0, gt=0)
    breaker_jitter_ratio: float = Field(
        default=0.1, ge=0, le=1, description="recovery wait within +-this share of the backoff"
    )
    breaker_half_open_max_probes: int = Field(default=1, ge=1)
    store_batch_size: int = Field(default=500, ge=1, description="cameras rows per upsert")
    store_max_pending: int = Field(default=100_000, ge=1)
    store_backoff_max_s: float = Field(default=30.0, gt=0)
    events_batch_max: int = Field(
        default=8000,
        ge=1,
        description="most records per consumer fetch (Faust broker_max_poll_records): the "
        "largest batch the events lane folds at once (bytes stay bounded by the fetch sizes)",
    )
    max_clock_skew_s: float = Field(
        default=24 * 3600.0, gt=0, description="Event timestamps further off are dead-lettered"
    )

    # --- stores (Supabase / Postgres) ----------------------------------------------------
    pg_dsn: SecretStr | None = None
    supabase_url: str | None = None
    supabase_key: SecretStr | None = None

    # --- policies ------------------------------------------------------------------------
    service_name: str = "camguard"
    webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=256 * 1024, gt=0)
    webhook_replay_window_s: float = Field(default=300.0, gt=0)
    policy_key: SecretStr | None = Field(
        default=None, description="keyid:base64(32 bytes)[,keyid:...] for AES-GCM policy configs"
    )
    policy_cache_ttl_s: float = Field(default=60.0, gt=0)
    policy_admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that may read plaintext policies on GET /policies when "
        "CAMGUARD_POLICY_KEY is set",
    )

    # --- anonymization -------------------------------------------------------------------
    models_dir: Path = Field(default_factory=lambda: default_cache_dir() / "models")
    providers: str = Field(default="auto", description="auto, or a comma list: tensorrt,cuda,cpu")
    detection_max_side: int = Field(
        default=640,
        ge=0,
        description="longest side of the whole-frame detection pass; 0 = full resolution",
    )
    plate_model: Literal["global", "clp_det", "both"] = Field(
        default="both",
        description="plate detector: global = YOLOv8 plates of many countries (safelicensing, "
        "trained with Ultralytics: AGPL-3.0 per Ultralytics), clp_det = Chinese plates "
        "(Apache-2.0), both = union of the two",
    )
    detection_upscale: float = Field(
        default=2.0,
        ge=1.0,
        le=4.0,
        description="a frame smaller than detection_max_side is enlarged towards it by up to "
        "this factor (1 = never): faces 10-16 px tall in a 426x240 frame become findable. "
        "Chosen on the composites (240x426: 14 px faces 8/10 vs 1/10, 16 px 9/10 vs 1/10) and "
        "the DEV photos (faces 19/21 vs 18/21, 3 more unmatched boxes: over-blurring, not leaks)",
    )
    face_tiles: bool = Field(
        default=True,
        description="faces: also detect on overlapping native-resolution tiles (far faces)",
    )
    plate_tiles: bool = Field(
        default=True, description="plates: also detect on overlapping tiles (far plates)"
    )
    # Chosen on DEV (tests/models/REALPHOTOS.md): crops around each DEV plate >= 30 px wide at
    # 3x, 4x and 6x its width (a camera framing one vehicle; the small frame is enlarged): 0 finds
    # 76/87 two-line and 30/30 other plates, 0.5 finds 80/87 and 30/30 (0.35: 79, 0.65: 80, at
    # more pixels); whole DEV photos gain no recall and one unmatched box (4 -> 5, native size).
    # The plate model scores a close two-line plate low that it finds at half the size.
    plate_coarse_pass: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="plates: also the whole frame at this fraction of the detection size "
        "(near plates that fill too much of it); 0 = off",
    )
    tile_side: int = Field(
        default=1280, ge=0, description="longest tile side in model pixels; 0 = one whole tile"
    )
    tile_scale: float = Field(default=1.0, gt=0, le=1, description="tile resolution / source")
    tile_overlap: int = Field(default=96, ge=0, description="source pixels shared by tiles")
    hold_frames: int = Field(
        default=2,
        ge=0,
        description="a box found in a camera's frame t is also blurred in t-k..t+k (clips) and "
        "t+1..t+k plus the same batch (streams): detector jitter does not unblur a face",
    )
    # fp32 by default on every device. The static int8 copy is ~1.5x faster on CPU but loses
    # faint faces: on the DEV split (its photos at 1.0-0.1 scale, plain and behind a simulated
    # tinted window; 138 faces) int8 at 0.3 misses 3 of the 134 faces fp32 finds (14-15 px
    # faces behind the simulated window, scores 0.39 -> 0.23, 0.33 -> 0.25, 0.33 -> 0.15),
    # finds none that fp32 misses, and scores faint faces 0.04 lower on average (down to 0.18
    # lower); percentile calibration or six more fp32 convolutions keep 2-3 of those misses.
    # Privacy first: int8 (or auto = int8 on CPU, fp32 on a GPU) is a throughput choice the
    # operator makes (README's trade-off table).
    face_precision: Literal["auto", "fp32", "int8"] = Field(
        default="fp32",
        description="CenterFace weights: fp32 (default), int8 (faster on CPU, loses faint "
        "faces), auto = int8 on CPU and fp32 on a GPU",
    )
    gpu_mem_limit_mb: int = Field(
        default=0,
        ge=0,
        description="GPU memory cap per inference session in MiB (CUDA gpu_mem_limit, TensorRT "
        "workspace); 0 = no cap",
    )
    inference_threads: int = Field(
        default=0, ge=0, description="Threads per inference; 0 = CPUs / worker_pool_size (1 on GPU)"
    )
    face_score_threshold: float = Field(default=FACE_SCORE_THRESHOLD, gt=0, lt=1)
    plate_score_threshold: float = Field(default=PLATE_SCORE_THRESHOLD, gt=0, lt=1)
    frame_failure_policy: Literal["blur", "drop"] = Field(
        default="blur", description="What fail_closed does with a frame whose detection failed"
    )
    worker_pool_size: int = Field(default=2, ge=1)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    face_blur_enabled: bool = True
    license_plate_blur_enabled: bool = True
    fail_closed: bool = True
    batch_window_s: float = Field(default=0.01, ge=0)
    batch_max_frames: int = Field(default=8, ge=1)

    # --- dashboard (streams/web/dashboard.py) ---------------------------------------------
    dashboard_sample_s: float = Field(
        default=5.0, gt=0, description="seconds between points of the per-camera charts"
    )
    dashboard_window_s: float = Field(
        default=900.0, gt=0, description="history kept per camera for the charts (in memory)"
    )
    dashboard_previews: bool = Field(
        default=True, description="serve the latest anonymized frame per camera as a thumbnail"
    )
    dashboard_preview_bytes: int = Field(
        default=64 * 1024**2, ge=0, description="memory held by the latest frames for previews"
    )
    gateways: str = Field(
        default="", description="comma list of gateway base URLs whose /queue/stats to show"
    )
    metrics_camera_series: int = Field(
        default=0, ge=0, description="per-camera series on /metrics for up to N cameras (0: off)"
    )

    # --- gateway spool -------------------------------------------------------------------
    spool_dir: Path = Field(
        default=DEFAULT_SPOOL_DIR, description="gateway spool (relative: to the cwd)"
    )
    spool_key: SecretStr | None = Field(
        default=None, description="base64(16|24|32 bytes)[,keyid:base64...]: AES-GCM at rest"
    )
    gateway_port: int = 6067
    gateway_host: str = "127.0.0.1"
    spool_fsync: Literal["always", "interval", "never"] = "interval"
    spool_fsync_interval_ms: int = Field(default=200, ge=1)
    spool_memory_items: int = Field(default=1000, ge=1, description="items held in memory")
    spool_max_disk_bytes: int = Field(default=2 * 1024**3, ge=1)
    spool_ttl_s: float = Field(default=300.0, gt=0, description="frames older are dropped")

    @field_validator("detection_max_side", "tile_side")
    @classmethod
    def _zero_or_stride(cls, value: int) -> int:
        if 0 < value < 32:
            raise ValueError("must be 0 (full resolution) or at least 32")
        return value

    @property
    def bootstrap_servers(self) -> str:
        """The broker list as aiokafka wants it (no ``kafka://`` scheme)."""
        return ",".join(
            part.removeprefix("kafka://").strip() for part in self.broker.split(";") if part
        )
