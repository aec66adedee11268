# Local S3 servers for the tests and benchmarks; source this file.
# Every server listens on 127.0.0.1 on a free port and is stopped by its pid
# (s3_stop_all, called from the caller's EXIT trap).
#   start_moto [auth]   MOTO_URL; with auth, SigV4 is verified and an IAM
#                       user's keys are exported as AWS_ACCESS_KEY_ID/SECRET
#   start_s3rver DIR BUCKET...   S3RVER_URL (keys S3RVER/S3RVER)
#   start_faultproxy UPSTREAM RATE SEED [COMPLETE_ERROR_RATE [PART_FAILURES]]   PROXY_URL
S3_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3_PIDS=()

s3_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# s3_wait_port PORT: up to 20 s for a listener.
s3_wait_port() {
    local i
    for i in $(seq 1 200); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

s3util() { python3 "$S3_TEST_DIR/s3util.py" "$@"; }

have_moto() { command -v moto_server >/dev/null 2>&1 && python3 -c 'import boto3' 2>/dev/null; }

start_moto() {
    local port log=${S3_LOG_DIR:-/tmp}/moto.$$.log
    port=$(s3_free_port)
    if [ "$1" = auth ]; then
        # Three unauthenticated calls: the IAM user, its key and its policy.
        INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    else
        moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    fi
    MOTO_PID=$!
    S3_PIDS+=("$MOTO_PID")
    MOTO_URL=http://127.0.0.1:$port
    s3_wait_port "$port" || return 1
    if [ "$1" = auth ]; then
        local keys
        keys=$(s3util "$MOTO_URL" mkuser) || return 1
        export AWS_ACCESS_KEY_ID=${keys% *} AWS_SECRET_ACCESS_KEY=${keys#* }
    else
        export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    fi
}

have_s3rver() { [ -x "${ETL_SRCDIR:-.}/node_modules/.bin/s3rver" ] && command -v node >/dev/null 2>&1; }

start_s3rver() {
    local dir=$1 port args=() b
    shift
    for b in "$@"; do
        args+=(--configure-bucket "$b")
    done
    port=$(s3_free_port)
    NODE_OPTIONS=--openssl-legacy-provider "$ETL_SRCDIR/node_modules/.bin/s3rver" -d "$dir" \
        -a 127.0.0.1 -p "$port" --silent "${args[@]}" >"$dir.log" 2>&1 &
    S3RVER_PID=$!
    S3_PIDS+=("$S3RVER_PID")
    S3RVER_URL=http://127.0.0.1:$port
    s3_wait_port "$port"
}

start_faultproxy() {
    local port
    port=$(s3_free_port)
    python3 "$S3_TEST_DIR/faultproxy.py" --listen "$port" --upstream "$1" --rate "$2" \
        --seed "$3" --complete-error-rate "${4:-0}" --part-failures "${5:-0}" \
        --log "${S3_LOG_DIR:-/tmp}/faults.$$.log" \
        2>/dev/null &
    PROXY_PID=$!
    S3_PIDS+=("$PROXY_PID")
    PROXY_URL=http://127.0.0.1:$port
    s3_wait_port "$port"
}

s3_stop_all() {
    local pid
    for pid in "${S3_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${S3_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    S3_PIDS=()
}
