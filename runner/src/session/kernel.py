# coderunner's session kernel: runs notebook cells in one persistent namespace, inside the
# session's sandbox (it holds no secret: it is the user's own interpreter).
#
# Protocol on fd 0, a socket to the host: every request and every reply is an 8-byte
# little-endian length and a JSON object (a "park" reply is followed by nothing else: the state
# is a file in the working directory). The cells' own stdout and stderr (fds 1 and 2) reach the
# host as they are written; at the end of each cell the kernel writes the cell's marker to both,
# so the host knows where the cell's output ends.
import ast
import base64
import builtins
import io
import json
import linecache
import os
import pickle
import signal
import struct
import sys
import traceback
import types

# The kernel's own references to what its protocol uses: a cell that monkey-patches json or
# struct (`json.dumps = ...`) changes its own namespace's modules, not the kernel's replies.
_dumps, _loads = json.dumps, json.loads
_pack, _unpack = struct.pack, struct.unpack

KERNEL_FILE = sys._getframe().f_code.co_filename
STATE_DIR = ".session"
STATE_FILE = ".session/state.pkl"
STATE_MAGIC = b"CRSESSION1\n"
REPR_LIMIT = 100_000
TABLE_ROWS = 20
TABLE_WIDTH = 100

CTL = os.dup(0)
_null = os.open("/dev/null", os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)

USER = types.ModuleType("__main__")
USER.__builtins__ = builtins
sys.modules["__main__"] = USER
NS = USER.__dict__
IN_CELL = False
CELL_COUNT = 0
SHOWN = []


def _on_sigint(signum, frame):
    # Outside a cell an interrupt that raced the cell's end is dropped, never raised in the
    # kernel's own loop.
    if IN_CELL:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def read_exact(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(CTL, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def recv():
    (n,) = _unpack("<Q", read_exact(8))
    return _loads(read_exact(n))


def send(obj):
    data = _dumps(obj).encode()
    data = _pack("<Q", len(data)) + data
    view = memoryview(data)
    while view:
        view = view[os.write(CTL, view):]


# plt.show() hands over the figures at once (as Jupyter's inline backend does), so two
# plot-and-show steps in one cell give two images. Patched as pyplot is imported.
def _show_now(*args, **kwargs):
    SHOWN.extend(figures())


class _PyplotHook:
    def find_spec(self, name, path, target=None):
        if name != "matplotlib.pyplot":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module):
            original(module)
            module.show = _show_now

        loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PyplotHook())
# A session forked from the warm pool's zygote has pyplot imported already.
if "matplotlib.pyplot" in sys.modules:
    sys.modules["matplotlib.pyplot"].show = _show_now


def figures():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    out = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            out.append({"mime": "image/png", "data": base64.b64encode(buf.getvalue()).decode()})
        except Exception as e:  # a broken figure must not lose the cell's other results
            out.append({"mime": "text/plain", "data": f"(figure {num} could not be drawn: {e!r})"})
    plt.close("all")
    return out


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def table_text(obj, pd):
    rows = min(len(obj), TABLE_ROWS)
    head = obj.iloc[:rows]
    notes = []
    if isinstance(obj, pd.Series):
        text = head.to_string(name=True, dtype=True, length=False)
    else:
        ncols = obj.shape[1]
        cols = min(ncols, 30)
        text = head.iloc[:, :cols].to_string()
        while cols > 1 and max(map(len, text.splitlines() or [""])) > TABLE_WIDTH:
            cols -= 1
            text = head.iloc[:, :cols].to_string()
        if cols < ncols:
            notes.append(_count(ncols - cols, "more column", "more columns"))
    if rows < len(obj):
        notes.insert(0, _count(len(obj) - rows, "more row", "more rows"))
    if notes:
        shape = "×".join(str(s) for s in obj.shape)
        text += f"\n… {', '.join(notes)} ({type(obj).__name__} {shape})"
    return text


def show(value):
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        out = [{"mime": "text/plain", "data": table_text(value, pd)}]
        try:
            frame = value.to_frame() if isinstance(value, pd.Series) else value
            out.append({"mime": "text/html", "data": frame.to_html(max_rows=60, max_cols=20)})
        except Exception:
            pass
        return out
    text = repr(value)
    if len(text) > REPR_LIMIT:
        text = text[:REPR_LIMIT] + f"… ({len(text) - REPR_LIMIT} more characters)"
    return [{"mime": "text/plain", "data": text}]


def user_traceback(e):
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == KERNEL_FILE:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


def run_cell(req):
    global IN_CELL, CELL_COUNT
    CELL_COUNT += 1
    name = f"<cell {CELL_COUNT}>"
    code = req.get("code", "")
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    sys.stdin = io.StringIO(req.get("stdin") or "")
    SHOWN.clear()
    status, exit_code, display = "ok", 0, []
    IN_CELL = True
    try:
        tree = ast.parse(code, name)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), NS)
        if last is not None:
            value = eval(compile(last, name, "eval"), NS)
            if value is not None:
                NS["_"] = value
                display = show(value)
    except SystemExit as e:
        status = "exit"
        if e.code is None:
            exit_code = 0
        elif isinstance(e.code, int):
            exit_code = e.code
        else:
            print(e.code, file=sys.stderr)
            exit_code = 1
    except KeyboardInterrupt as e:
        status, exit_code = "interrupted", 130
        sys.stderr.write(user_traceback(e))
    except BaseException as e:
        status, exit_code = "error", 1
        sys.stderr.write(user_traceback(e))
    finally:
        IN_CELL = False
    try:
        display = SHOWN + display + figures()
    except BaseException as e:
        display = SHOWN + display
        sys.stderr.write(f"(the cell's figures could not be drawn: {e!r})\n")
    SHOWN.clear()
    end_cell(req)
    return {"status": status, "exit_code": exit_code, "display": display}


def end_cell(req):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    sys.stdin = io.StringIO("")
    marker = req.get("marker", "").encode()
    for fd in (1, 2):
        try:
            os.write(fd, marker)
        except OSError:
            pass


def kind(value):
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def size_of(value):
    for attr in ("nbytes",):
        n = getattr(value, attr, None)
        if isinstance(n, int):
            return n
    usage = getattr(value, "memory_usage", None)
    if usage is not None and type(value).__module__.startswith("pandas"):
        try:
            total = usage(index=True, deep=False)
            return int(total.sum()) if hasattr(total, "sum") else int(total)
        except Exception:
            pass
    try:
        return sys.getsizeof(value)
    except Exception:
        return 0


def user_names():
    return [n for n in NS if not n.startswith("_")]


def variables(req):
    out = []
    for name in user_names()[:200]:
        value = NS[name]
        if isinstance(value, types.ModuleType):
            continue
        out.append({"name": name, "type": kind(value), "size": size_of(value)})
    return {"variables": out}


def why_not(value):
    if isinstance(value, (types.FunctionType, type)) and getattr(value, "__module__", None) == "__main__":
        return "function defined in a cell" if isinstance(value, types.FunctionType) else "class defined in a cell"
    return None


def park(req):
    os.makedirs(STATE_DIR, exist_ok=True)
    saved, not_saved, modules = [], [], {}
    tmp = STATE_FILE + ".tmp"
    with open(tmp, "wb") as f:
        f.write(STATE_MAGIC)
        for name in user_names():
            value = NS[name]
            if isinstance(value, types.ModuleType):
                modules[name] = value.__name__
                continue
            reason = why_not(value)
            if reason is not None:
                not_saved.append([name, reason])
                continue
            start = f.tell()
            try:
                encoded = name.encode()
                f.write(struct.pack("<I", len(encoded)) + encoded + b"\0" * 8)
                body = f.tell()
                pickle.dump(value, f, protocol=5)
                end = f.tell()
                f.seek(body - 8)
                f.write(struct.pack("<Q", end - body))
                f.seek(end)
                saved.append(name)
            except BaseException as e:
                f.seek(start)
                f.truncate()
                reason = kind(value)
                if isinstance(e, OSError) and e.errno == 28:
                    reason += ", no room left in the working directory"
                not_saved.append([name, reason])
        trailer = pickle.dumps({"modules": modules, "not_saved": not_saved}, protocol=5)
        f.write(struct.pack("<I", 0) + struct.pack("<Q", len(trailer)) + trailer)
    os.replace(tmp, STATE_FILE)
    return {"saved": saved, "not_saved": not_saved, "modules": sorted(modules)}


def restore(req):
    try:
        f = open(STATE_FILE, "rb")
    except OSError:
        return {"found": False, "restored": [], "failed": [], "not_saved": []}
    restored, failed, not_saved = [], [], []
    with f:
        if f.read(len(STATE_MAGIC)) != STATE_MAGIC:
            f.seek(0, 2)
            empty = f.tell() == 0
            os.unlink(STATE_FILE)
            if empty:  # `!restart` leaves an empty state: nothing to bring back
                return {"found": False, "restored": [], "failed": [], "not_saved": []}
            return {"found": True, "restored": [], "failed": [["(state)", "not a saved session"]], "not_saved": []}
        while True:
            head = f.read(4)
            if len(head) < 4:
                break
            (n,) = struct.unpack("<I", head)
            name = f.read(n).decode("utf-8", "replace")
            (size,) = struct.unpack("<Q", f.read(8))
            data = f.read(size)
            if n == 0:
                trailer = pickle.loads(data)
                for alias, module in trailer.get("modules", {}).items():
                    try:
                        NS[alias] = __import__(module, fromlist=["_"])
                    except BaseException as e:
                        failed.append([alias, f"import {module}: {e!r}"])
                not_saved = trailer.get("not_saved", [])
                break
            try:
                NS[name] = pickle.loads(data)
                restored.append(name)
            except BaseException as e:
                failed.append([name, f"{type(e).__name__}: {e}"])
    os.unlink(STATE_FILE)
    return {"found": True, "restored": restored, "failed": failed, "not_saved": not_saved}


OPS = {"cell": run_cell, "vars": variables, "park": park, "restore": restore}


def main():
    send({"ready": True, "python": sys.version.split()[0]})
    while True:
        try:
            req = recv()
        except EOFError:
            return
        op = OPS.get(req.get("op"))
        if op is None:
            send({"error": f"unknown op {req.get('op')!r}"})
            continue
        try:
            reply = op(req)
        except KeyboardInterrupt:
            reply = {"error": "interrupted"}
        except BaseException as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        send(reply)


main()
