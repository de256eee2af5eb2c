#!/usr/bin/env bash
# Single-node KRaft Apache Kafka from Maven Central jars, for development and tests.
#
#   infra/kafka/kafka.sh fetch                  # jars into $CAMGUARD_CACHE/kafka-<version>/libs
#   infra/kafka/kafka.sh start [--port P] [--dir D] [--keep]   # format a log dir, start, wait ready
#                                               # --keep: restart on an already formatted dir
#   infra/kafka/kafka.sh stop  [--dir D]        # stop the broker by its PID file
#   infra/kafka/kafka.sh status [--dir D]
#
# Environment: CAMGUARD_CACHE (default ~/.cache/camguard), KAFKA_PORT (default 9092),
# KAFKA_DIR (run folder, default $CAMGUARD_CACHE/run/kafka-<port>), KAFKA_HEAP (default 512m).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CAMGUARD_CACHE:-$HOME/.cache/camguard}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
libs="$cache/kafka-$version/libs"
port="${KAFKA_PORT:-9092}"
dir="${KAFKA_DIR:-}"
python="${PYTHON:-python3}"
keep=0
java="${JAVA:-java}"   # JAVA=/path/to/jdk17/bin/java selects another JDK

die() { echo "kafka.sh: $*" >&2; exit 1; }

need() {
  command -v "$java" >/dev/null 2>&1 || die "Java 17 or newer is required: apt-get install -y openjdk-17-jre-headless"
  local major
  major="$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  [ "${major:-0}" -ge 17 ] || die "Java ${major:-?} found, Kafka $version needs 17+: apt-get install -y openjdk-17-jre-headless"
}

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch the Kafka jars: apt-get install -y maven"
  need
  echo "kafka.sh: fetching Apache Kafka $version jars from Maven Central into $libs" >&2
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2 \
    || die "Maven could not fetch org.apache.kafka:kafka_2.13:$version (see the output above)"
  touch "$libs/.complete"
}

parse() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2;;
      --dir) dir="$2"; shift 2;;
      --keep) keep=1; shift;;
      *) die "unknown option $1";;
    esac
  done
  [ -n "$dir" ] || dir="$cache/run/kafka-$port"
}

alive() { [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; }

start() {
  parse "$@"
  need
  fetch
  if alive; then echo "kafka.sh: broker already running on 127.0.0.1:$port (pid $(cat "$dir/kafka.pid"))"; return 0; fi
  "$python" "$here/probe.py" free "$port" || die "port $port is already taken on 127.0.0.1; choose another with --port or KAFKA_PORT"
  local cport
  cport="$("$python" "$here/probe.py" pick)"
  local fresh=1  # --keep on a formatted dir: same config and data, the broker just restarts
  if [ "$keep" = 1 ] && [ -f "$dir/data/meta.properties" ]; then fresh=0; fi
  [ "$fresh" = 0 ] || rm -rf "$dir"; mkdir -p "$dir/logs" "$dir/data"
  [ "$fresh" = 0 ] || cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.cleaner.backoff.ms=1000
log.segment.bytes=67108864
PROPS
  cat > "$dir/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/logs/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
  local cp="$libs/*"
  local jopts=(-Xms"${KAFKA_HEAP:-512m}" -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
               -Dlog4j.configuration="file:$dir/log4j.properties")
  local cluster
  if [ "$fresh" = 1 ]; then
  cluster="$("$java" -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  "$java" -cp "$cp" "${jopts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" \
    > "$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; die "formatting KRaft storage failed"; }
  fi
  nohup "$java" -cp "$cp" "${jopts[@]}" kafka.Kafka "$dir/server.properties" \
    > "$dir/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/kafka.pid"
  if ! "$python" "$here/probe.py" wait 127.0.0.1 "$port" 90 "$(cat "$dir/kafka.pid")"; then
    tail -30 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
    stop_broker
    die "broker on 127.0.0.1:$port did not answer a metadata request within 90 s"
  fi
  echo "kafka.sh: Apache Kafka $version ready on 127.0.0.1:$port (pid $(cat "$dir/kafka.pid"), dir $dir)"
}

stop_broker() {
  alive || { rm -f "$dir/kafka.pid"; return 0; }
  local pid; pid="$(cat "$dir/kafka.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

case "${1:-}" in
  fetch) fetch; echo "$libs";;
  start) shift; start "$@";;
  stop) shift; parse "$@"; stop_broker; echo "kafka.sh: stopped broker on port $port";;
  status) shift; parse "$@"
    if alive && "$python" "$here/probe.py" wait 127.0.0.1 "$port" 2 "$(cat "$dir/kafka.pid")"; then
      echo "running on 127.0.0.1:$port (pid $(cat "$dir/kafka.pid"))"
    else echo "not running"; exit 3; fi;;
  *) echo "usage: $0 fetch|start|stop|status [--port P] [--dir D]" >&2; exit 2;;
esac
