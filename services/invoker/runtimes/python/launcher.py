# Squall Python runtime: one long-lived process per container speaking the same actionloop
# variant as runtimes/nodejs/launcher.js (read its header for the whole protocol), run as
# `/usr/bin/python3 -B /runtime/launcher.py` inside the sandbox.
#
#   stdin, first line : {"init":{"code":"...","main":"main","binary":false}}
#                       plain code is compiled as the module "main__"; binary code is a base64
#                       zip unpacked into /action (a temporary directory when unsandboxed)
#                       that must hold __main__.py; a virtualenv/ directory in it (OpenWhisk's
#                       convention) has its site-packages put on sys.path
#   fd 3 answer       : {"ok":true} or {"error":"<message>"}
#   then per line     : {"value":{...},"activation_id":...,...}: every key but "value" becomes
#                       os.environ["__OW_<KEY>"] (set by OwEnv, below); main(value) is called
#   fd 3 answer       : the returned value as one JSON line (None becomes {}); an exception
#                       is a developer error, written with the reserved marker the invoker
#                       strips: {"error":"An error has occurred: <exc>","__ow_thrown":true}
#   after every answer: XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX on stdout and stderr.
#
# sys.stdout and sys.stderr write through to the pipes at once (no buffering), so nothing the
# action prints can reach the invoker after its sentinel.
import io
import json
import os
import sys
import traceback

SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
RESULT_FD = 3


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Raw(io.RawIOBase):
    """An unbuffered writer on fd that never lets a short write lose data."""

    def __init__(self, fd):
        self._fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def write(self, b):
        write_all(self._fd, bytes(b))
        return len(b)


def _stream(fd):
    return io.TextIOWrapper(_Raw(fd), encoding="utf-8", errors="backslashreplace",
                            line_buffering=False, write_through=True)


sys.stdout = _stream(1)
sys.stderr = _stream(2)


def answer(obj_text):
    write_all(RESULT_FD, obj_text.encode("utf-8") + b"\n")
    sys.stdout.flush()
    sys.stderr.flush()
    write_all(1, SENTINEL)
    write_all(2, SENTINEL)


def code_dir():
    if os.access("/action", os.W_OK):
        return "/action"
    import tempfile
    return tempfile.mkdtemp(prefix="squall-action-")


def unzip(data, dest):
    import zipfile
    root = os.path.realpath(dest)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            target = os.path.realpath(os.path.join(root, info.filename))
            if target != root and not target.startswith(root + os.sep):
                raise ValueError("zip entry outside the action: " + info.filename)
            z.extract(info, root)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode | 0o400)


def load(init):
    import importlib.util
    import types
    code, name = init.get("code"), init.get("main") or "main"
    if not isinstance(code, str) or not isinstance(name, str):
        raise ValueError("Missing main/no code to execute.")
    if init.get("binary"):
        import base64
        d = code_dir()
        unzip(base64.b64decode(code), d)
        entry = os.path.join(d, "__main__.py")
        if not os.path.isfile(entry):
            raise ValueError("Zip file does not include __main__.py")
        venv = os.path.join(d, "virtualenv")
        if os.path.isdir(venv):
            import glob
            for sp in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages")):
                sys.path.insert(0, sp)
        sys.path.insert(0, d)
        os.chdir(d)
        spec = importlib.util.spec_from_file_location("main__", entry)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["main__"] = mod
        spec.loader.exec_module(mod)
    else:
        mod = types.ModuleType("main__")
        mod.__file__ = "/action/__main__.py"
        sys.modules["main__"] = mod
        exec(compile(code, "__main__.py", "exec"), mod.__dict__)
    fn = getattr(mod, name, None)
    if not callable(fn):
        raise ValueError("Action entrypoint '%s' is not a function." % name)
    return fn


class OwEnv:
    """Sets the activation's __OW_* variables in os.environ and in the C environment that
    child processes inherit, without setenv(3): glibc keeps every string setenv ever made (a
    warm container grew by some 170 bytes an activation, 50 MB after 300 000). Each variable
    is one buffer "NAME=value" given to putenv(3), which keeps the pointer, and rewritten in
    place; os.environ's mapping is updated directly. If the action set or removed the
    variable itself, the buffer is given to putenv again; one too small is replaced by one
    twice the size (the old one kept: a pointer getenv(3) gave may still be read)."""

    def __init__(self):
        import ctypes
        self.ct = ctypes
        libc = ctypes.CDLL(None)
        self.putenv = libc.putenv
        self.putenv.argtypes = [ctypes.c_void_p]
        self.getenv = libc.getenv
        self.getenv.argtypes = [ctypes.c_char_p]
        self.getenv.restype = ctypes.c_void_p
        self.bufs = {}
        self.kept = []
        self.data = os.environ._data
        self.enckey = os.environ.encodekey
        self.encval = os.environ.encodevalue

    def set(self, name, value):
        k, v = self.enckey(name), self.encval(value)
        if b"\0" in v:
            os.environ[name] = value  # refused as os.putenv refuses it
            return
        entry = k + b"=" + v + b"\0"
        buf = self.bufs.get(name)
        if buf is None or len(buf) < len(entry):
            if buf is not None:
                self.kept.append(buf)
            buf = self.ct.create_string_buffer(len(entry) * 2)
            self.bufs[name] = buf
        self.ct.memmove(buf, entry, len(entry))
        at = self.ct.addressof(buf)
        if self.getenv(k) != at + len(k) + 1:
            self.putenv(at)
        self.data[k] = v


def thrown(msg):
    return json.dumps({"error": "An error has occurred: " + msg, "__ow_thrown": True},
                      ensure_ascii=False)


def main():
    stdin = sys.stdin.buffer
    first = stdin.readline()
    if not first:
        return
    try:
        msg = json.loads(first)
        init = msg["init"]
    except Exception:
        answer(json.dumps({"error": "Internal system error: the first message must be an init"}))
        return
    # parameters annotated init: true (OpenWhisk): environment variables, not arguments
    env = init.get("env")
    if isinstance(env, dict):
        for k, v in env.items():
            if isinstance(k, str) and isinstance(v, str) and not k.startswith("__OW_"):
                os.environ[k] = v
    try:
        fn = load(init)
    except BaseException as e:
        traceback.print_exc()
        answer(json.dumps({"error": "Initialization has failed due to: %s" % (e,)},
                          ensure_ascii=False))
        return
    answer('{"ok":true}')
    # os.environ for the first activation; then OwEnv, once the first has been answered
    # (loading ctypes takes some 7 ms: a container that runs once never pays for it)
    setenv, runs = os.environ.__setitem__, 0
    while True:
        if runs == 1:
            try:
                setenv = OwEnv().set
            except Exception:
                pass
        runs += 1
        line = stdin.readline()
        if not line:
            return
        try:
            args = json.loads(line)
        except ValueError as e:
            write_all(2, ("launcher: bad message on stdin: %s\n" % e).encode())
            sys.exit(70)
        for k, v in args.items():
            if k != "value":
                setenv("__OW_" + k.upper(), v if isinstance(v, str) else json.dumps(v))
        value = args.get("value", {})
        try:
            res = fn(value if value is not None else {})
        except Exception as e:
            traceback.print_exc()
            answer(thrown("%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__))
            continue
        if res is None:
            res = {}
        try:
            text = json.dumps(res, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            answer(thrown(str(e)))
            continue
        answer(text)


if __name__ == "__main__":
    main()
