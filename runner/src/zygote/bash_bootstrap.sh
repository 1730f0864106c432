# coderunner's warm-pool preload for bash (runner/src/pool/prestart.rs). A bash slot
# starts `bash main.sh` ahead of its run, already confined, with BASH_ENV naming this file, which
# a non-interactive bash sources before it opens its script: say "ready" on the slot socket, block
# until coderunner writes "go" and the run's arguments (NUL-terminated) into the go pipe and
# closes it, close both fds, make the arguments "$@", and leave no variable behind; bash then
# opens main.sh and runs it as a cold `bash main.sh ARGS` would ($0, BASH_SOURCE, line numbers).
if [ -n "${CODERUNNER_BASH_CONTROL_FD-}" ]; then
    printf '{"kind":"ready"}' >&"$CODERUNNER_BASH_CONTROL_FD"
    __coderunner_args=()
    __coderunner_go=
    IFS= read -r -d '' __coderunner_go <&"$CODERUNNER_BASH_GO_FD"
    if [ "$__coderunner_go" != go ]; then
        exit 0 # the slot was dropped unused
    fi
    while IFS= read -r -d '' __coderunner_go <&"$CODERUNNER_BASH_GO_FD"; do
        __coderunner_args+=("$__coderunner_go")
    done
    eval "exec $CODERUNNER_BASH_CONTROL_FD>&- $CODERUNNER_BASH_GO_FD<&-"
    set -- "${__coderunner_args[@]}"
    unset __coderunner_args __coderunner_go CODERUNNER_BASH_CONTROL_FD CODERUNNER_BASH_GO_FD BASH_ENV
    # What a fresh bash has: SECONDS from the run's start, $? 0 and $_ the shell's own path.
    SECONDS=0
    : "$BASH"
fi
