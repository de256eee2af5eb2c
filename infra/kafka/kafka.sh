#!/usr/bin/env bash
# Single-node KRaft Apache Kafka from Maven Central jars, for development and tests.
#
#   infra/kafka/kafka.sh fetch                  # jars into $CAMGUARD_CACHE/kafka-<version>/libs
#   infra/kafka/kafka.sh start [--port P] [--dir D] [--keep]   # format a log dir, start, wait ready
#                                               # --keep: restart on an already formatted dir
#   infra/kafka/kafka.sh stop  [--dir D]        # stop the broker by its PID file
#   infra/kafka/kafka.sh status [--dir D]
#
# Opt-in secured listeners (start only; the PLAINTEXT listener on --port stays as it is):
#   --tls-dir D             TLS material; made with openssl + keytool when D/ca.pem is missing:
#                           ca.pem (the CA clients trust), broker.p12 (keystore, 127.0.0.1 and
#                           localhost), truststore.p12, client.pem + client.key (a client
#                           certificate the CA signed), store.password (both stores' password)
#   --sasl-ssl-port P       a SASL_SSL listener: SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN
#   --sasl-user U --sasl-password W
#                           the one user of that listener (SCRAM users are added at format time)
#   --ssl-port P            an SSL listener that requires a client certificate signed by the CA
#   --acls                  Kafka's StandardAuthorizer: a resource with no ACL is open to all,
#                           User:ANONYMOUS (the PLAINTEXT and controller listeners) is a super
#                           user; ACLs (e.g. a DENY for the SASL user) restrict the rest
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
tls_dir=""
sasl_ssl_port=""
ssl_port=""
sasl_user=""
sasl_password=""
acls=0
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
      --tls-dir) tls_dir="$2"; shift 2;;
      --sasl-ssl-port) sasl_ssl_port="$2"; shift 2;;
      --ssl-port) ssl_port="$2"; shift 2;;
      --sasl-user) sasl_user="$2"; shift 2;;
      --sasl-password) sasl_password="$2"; shift 2;;
      --acls) acls=1; shift;;
      *) die "unknown option $1";;
    esac
  done
  [ -n "$dir" ] || dir="$cache/run/kafka-$port"
}

make_tls() {  # a dev CA, the broker's keystore and truststore, a client certificate
  [ -f "$tls_dir/ca.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 || die "openssl is required for --tls-dir: apt-get install -y openssl"
  command -v keytool >/dev/null 2>&1 || die "keytool (Java 17) is required for --tls-dir"
  mkdir -p "$tls_dir"
  (
    cd "$tls_dir"
    umask 077
    local pw; pw="$(openssl rand -hex 16)"
    printf '%s' "$pw" > store.password
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=camguard dev CA" \
      -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    local name ext
    for name in broker client; do
      if [ "$name" = broker ]; then
        ext="subjectAltName=IP:127.0.0.1,DNS:localhost"$'\n'"extendedKeyUsage=serverAuth"
      else
        ext="subjectAltName=DNS:camguard-client"$'\n'"extendedKeyUsage=clientAuth"
      fi
      openssl req -newkey rsa:2048 -nodes -subj "/CN=camguard-$name" -keyout "$name.key" -out "$name.csr"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
        -out "$name.pem" -extfile <(printf '%s\n' "$ext")
    done
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -out broker.p12 -passout "pass:$pw"
    keytool -importcert -noprompt -alias camguard-ca -file ca.pem -keystore truststore.p12 \
      -storetype PKCS12 -storepass "$pw"
    rm -f broker.csr client.csr ca.srl
    chmod 644 ca.pem client.pem
  ) > "$dir/logs/tls.log" 2>&1 || { cat "$dir/logs/tls.log" >&2; die "making TLS material in $tls_dir failed"; }
}

secured_properties() {  # listeners and security settings added by the opt-in flags
  local pw; pw="$(cat "$tls_dir/store.password")"
  cat <<PROPS
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls_dir/broker.p12
ssl.keystore.password=$pw
ssl.key.password=$pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$tls_dir/truststore.p12
ssl.truststore.password=$pw
PROPS
  if [ -n "$ssl_port" ]; then echo "listener.name.ssl.ssl.client.auth=required"; fi
  if [ -n "$sasl_ssl_port" ]; then
    local scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
    cat <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
PROPS
  fi
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
  local listeners="PLAINTEXT://127.0.0.1:$port" protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  local scram_args=()
  if [ -n "$sasl_ssl_port$ssl_port" ]; then
    [ -n "$tls_dir" ] || die "--sasl-ssl-port and --ssl-port need --tls-dir"
    if [ -n "$sasl_ssl_port" ] && { [ -z "$sasl_user" ] || [ -z "$sasl_password" ]; }; then
      die "--sasl-ssl-port needs --sasl-user and --sasl-password"
    fi
    local p
    for p in $sasl_ssl_port $ssl_port; do
      "$python" "$here/probe.py" free "$p" || die "port $p is already taken on 127.0.0.1"
    done
    mkdir -p "$tls_dir"; tls_dir="$(cd "$tls_dir" && pwd)"
    [ "$fresh" = 0 ] || make_tls
  fi
  if [ -n "$sasl_ssl_port" ]; then
    listeners+=",SASL_SSL://127.0.0.1:$sasl_ssl_port"; protocols+=",SASL_SSL:SASL_SSL"
    for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
      scram_args+=(--add-scram "$mechanism=[name=$sasl_user,password=$sasl_password]")
    done
  fi
  if [ -n "$ssl_port" ]; then listeners+=",SSL://127.0.0.1:$ssl_port"; protocols+=",SSL:SSL"; fi
  [ "$fresh" = 0 ] || cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
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
  if [ "$fresh" = 1 ] && [ -n "$sasl_ssl_port$ssl_port" ]; then
    secured_properties >> "$dir/server.properties"
  fi
  if [ "$fresh" = 1 ] && [ "$acls" = 1 ]; then
    cat >> "$dir/server.properties" <<PROPS
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS
PROPS
  fi
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
    "${scram_args[@]}" \
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
