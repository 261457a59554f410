#!/usr/bin/env bash
# Compare Ember with llama.cpp on one machine: alternate `llama-bench` and `ember bench`
# for K rounds (one timed repetition of each test per program per round), then print the
# median tokens/s per program and test, and the ratio ember / llama.cpp.
#
#   compare.sh --llama-bench PATH --gguf MODEL.gguf --ember PATH --ember-model MODEL.ember
#              [-k ROUNDS] [-t THREADS[,THREADS..]] [-p N_PROMPT] [-n N_GEN] [-o OUT_DIR]
#              [--llama-args "..."] [--ember-args "..."] [--boost]
#
# Why alternate: the machine's cores are shared with other work, so load drifts over minutes.
# Running A, B, A, B ... (the order flips every round) exposes both programs to the same
# drift; medians over rounds are robust to a round that was disturbed. When other work keeps
# the cores busy, multi-threaded runs of both programs collapse (a thread waits at every
# barrier for a descheduled peer); --boost (needs root) runs both programs at nice -20 and
# raises this session's scheduler autogroup to -20 while the script runs (the kernel ranks
# sessions against each other by autogroup, so a plain nice alone does not help), and puts
# it back at exit.
#
# It builds nothing. Each program's JSON of every round is kept in OUT_DIR (default: a new
# temporary directory), and the summary is printed and also written to OUT_DIR/summary.json.
# `ember bench --json` prints an array of objects with test, n_prompt, n_gen, n_threads,
# avg_ts, stddev_ts; llama-bench -o json prints n_prompt, n_gen, n_threads, avg_ts, stddev_ts
# (the test name pp512 / tg128 is derived from n_prompt / n_gen). When ember is missing,
# fails, or prints no JSON, the rounds continue with llama.cpp alone and the ember column
# says so.
set -uo pipefail

usage() {  # the header comment above
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&"$(( ${1:-0} == 0 ? 1 : 2 ))"
    exit "${1:-0}"
}

LLAMA_BENCH="" GGUF="" EMBER="" EMBER_MODEL=""
ROUNDS=5 THREADS=2 N_PROMPT=512 N_GEN=128 OUT_DIR=""
LLAMA_ARGS="" EMBER_ARGS="--ttft 0" BOOST=0
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

while [ $# -gt 0 ]; do
    case "$1" in
        --llama-bench) LLAMA_BENCH=$2; shift 2 ;;
        --gguf) GGUF=$2; shift 2 ;;
        --ember) EMBER=$2; shift 2 ;;
        --ember-model) EMBER_MODEL=$2; shift 2 ;;
        -k|--rounds) ROUNDS=$2; shift 2 ;;
        -t|--threads) THREADS=$2; shift 2 ;;
        -p|--n-prompt) N_PROMPT=$2; shift 2 ;;
        -n|--n-gen) N_GEN=$2; shift 2 ;;
        -o|--out-dir) OUT_DIR=$2; shift 2 ;;
        --llama-args) LLAMA_ARGS=$2; shift 2 ;;
        --ember-args) EMBER_ARGS=$2; shift 2 ;;
        --boost) BOOST=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "compare.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done

if [ -z "$LLAMA_BENCH" ] || [ -z "$GGUF" ]; then echo "compare.sh: --llama-bench and --gguf are required" >&2; usage 2; fi
[ -x "$LLAMA_BENCH" ] || { echo "compare.sh: llama-bench '$LLAMA_BENCH' is not executable" >&2; exit 2; }
[ -f "$GGUF" ] || { echo "compare.sh: no such file '$GGUF'" >&2; exit 2; }
case "$ROUNDS" in ''|*[!0-9]*|0) echo "compare.sh: -k must be a positive integer" >&2; exit 2 ;; esac

EMBER_OK=1
if [ -z "$EMBER" ] || [ -z "$EMBER_MODEL" ]; then
    echo "compare.sh: no --ember / --ember-model: running llama.cpp only" >&2; EMBER_OK=0
elif [ ! -x "$EMBER" ]; then
    echo "compare.sh: ember '$EMBER' is not executable: running llama.cpp only" >&2; EMBER_OK=0
elif [ ! -f "$EMBER_MODEL" ]; then
    echo "compare.sh: no such file '$EMBER_MODEL': running llama.cpp only" >&2; EMBER_OK=0
fi

[ -n "$OUT_DIR" ] || OUT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/compare_llamacpp.XXXXXX")
mkdir -p "$OUT_DIR" || exit 2
rm -f "$OUT_DIR"/llama.r*.t*.json "$OUT_DIR"/ember.r*.t*.json  # the summary reads every round file there
NICE=()
if [ "$BOOST" = 1 ]; then
    NICE=(nice -n -20)
    if AG_OLD=$(awk '{print $3}' /proc/self/autogroup 2>/dev/null) && echo -20 2>/dev/null >/proc/self/autogroup; then
        trap 'echo "$AG_OLD" >/proc/self/autogroup 2>/dev/null' EXIT
    else
        echo "compare.sh: --boost: cannot raise the autogroup (not root, or no autogroup scheduling)" >&2
    fi
    "${NICE[@]}" true 2>/dev/null || { echo "compare.sh: --boost: nice -20 not permitted; running at normal priority" >&2; NICE=(); }
fi

echo "compare.sh: $ROUNDS rounds, threads $THREADS, -p $N_PROMPT -n $N_GEN; raw JSON in $OUT_DIR" >&2

# is_json_array FILE: true when FILE holds a JSON array with at least one object.
is_json_array() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(d,list) and d and isinstance(d[0],dict) else 1)' "$1" 2>/dev/null
}

run_llama() {  # round threads
    local out="$OUT_DIR/llama.r$1.t$2.json"
    # shellcheck disable=SC2086  # LLAMA_ARGS is split on purpose
    if "${NICE[@]}" "$LLAMA_BENCH" -m "$GGUF" -t "$2" -p "$N_PROMPT" -n "$N_GEN" -r 1 -o json $LLAMA_ARGS \
            >"$out" 2>"$OUT_DIR/llama.r$1.t$2.log" && is_json_array "$out"; then
        echo "  llama.cpp  round $1 t=$2: ok" >&2
    else
        echo "  llama.cpp  round $1 t=$2: FAILED (see $OUT_DIR/llama.r$1.t$2.log)" >&2
        rm -f "$out"
    fi
}

run_ember() {  # round threads
    [ "$EMBER_OK" = 1 ] || return 0
    local out="$OUT_DIR/ember.r$1.t$2.json"
    # shellcheck disable=SC2086
    if "${NICE[@]}" "$EMBER" bench "$EMBER_MODEL" -t "$2" -p "$N_PROMPT" -n "$N_GEN" -r 1 --json -q $EMBER_ARGS \
            >"$out" 2>"$OUT_DIR/ember.r$1.t$2.log" && is_json_array "$out"; then
        echo "  ember      round $1 t=$2: ok" >&2
    else
        echo "  ember      round $1 t=$2: FAILED or no JSON (see $OUT_DIR/ember.r$1.t$2.log);" \
             "continuing with llama.cpp only" >&2
        rm -f "$out"
        EMBER_OK=0
    fi
}

IFS=',' read -r -a THREAD_LIST <<<"$THREADS"
for ((r = 1; r <= ROUNDS; r++)); do
    for t in "${THREAD_LIST[@]}"; do
        if ((r % 2)); then run_llama "$r" "$t"; run_ember "$r" "$t"
        else run_ember "$r" "$t"; run_llama "$r" "$t"; fi
    done
done

"$PY" - "$OUT_DIR" <<'PY'
import glob, json, os, statistics, sys

out_dir = sys.argv[1]

def test_name(o):
    if "test" in o and o["test"]:
        return str(o["test"])
    p, n = int(o.get("n_prompt", 0)), int(o.get("n_gen", 0))
    if p and n:
        return f"pp{p}+tg{n}"
    return f"pp{p}" if p else f"tg{n}"

# samples[(test, threads)][program] = [t/s of each round]
samples = {}
for prog in ("llama", "ember"):
    for path in sorted(glob.glob(os.path.join(out_dir, f"{prog}.r*.t*.json"))):
        with open(path) as f:
            for o in json.load(f):
                key = (test_name(o), int(o.get("n_threads", 0)))
                samples.setdefault(key, {}).setdefault(prog, []).append(float(o["avg_ts"]))

def order(key):
    name, t = key
    return (0 if name.startswith("pp") and "+" not in name else 1 if name.startswith("tg") else 2, name, t)

def fmt(v):
    if not v:
        return "n/a"
    s = f"{statistics.median(v):.2f}"
    return s + (f" [{min(v):.2f}..{max(v):.2f}]" if len(v) > 1 else "")

rows, summary = [], []
for key in sorted(samples, key=order):
    name, t = key
    ll, em = samples[key].get("llama", []), samples[key].get("ember", [])
    ratio = statistics.median(em) / statistics.median(ll) if ll and em else None
    rows.append((name, str(t), fmt(ll), str(len(ll)), fmt(em), str(len(em)),
                 f"{ratio:.3f}" if ratio is not None else "n/a"))
    summary.append({"test": name, "n_threads": t,
                    "llama_median_ts": statistics.median(ll) if ll else None, "llama_samples_ts": ll,
                    "ember_median_ts": statistics.median(em) if em else None, "ember_samples_ts": em,
                    "ratio_ember_over_llama": ratio})

head = ("test", "threads", "llama.cpp t/s median [min..max]", "runs", "ember t/s median [min..max]", "runs",
        "ember/llama.cpp")
print("| " + " | ".join(head) + " |")
print("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(head))) + " |")
for r in rows:
    print("| " + " | ".join(r) + " |")
if not any(s["ember_samples_ts"] for s in summary):
    print("\nember: no results (missing binary/model, or `ember bench --json` failed); see the logs in " + out_dir)
with open(os.path.join(out_dir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
PY
