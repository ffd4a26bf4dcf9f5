"""Loading libkpf.so, turning kpf statuses into exceptions, and the registry.

libkpf is opened once per process with cffi in ABI mode (no compiler
needed); each call releases the GIL while C runs.  Every fallible C call
gets a fresh kpf_error and goes through `check`, which raises `Error` with
the library's status and its one-line (often file:line:col-located)
message.
"""
import os
import threading

from cffi import FFI

from . import _config
from ._cdef import CDEF

ffi = FFI()
ffi.cdef(CDEF)


def _open_library():
    path = os.environ.get("KPF_LIBRARY") or _config.library_path()
    try:
        return ffi.dlopen(path), path
    except OSError as e:
        raise ImportError(
            f"kpf: cannot load libkpf from {path}: {e}. Build kpf first "
            f"(cmake --build build), or set KPF_LIBRARY to the libkpf.so to use.") from e


lib, LIBRARY_PATH = _open_library()


class Error(Exception):
    """A libkpf call failed.

    `code` is the kpf_status (kpf.EINVAL, kpf.ECONFIG, …), `status` its
    description, `message` the library's one-line message, located as
    `file:line:col: key.path: problem` for configuration errors.
    """

    def __init__(self, code, message):
        self.code = int(code)
        self.status = status_string(self.code)
        self.message = message
        super().__init__(f"{message} [{self.status}]")


def status_string(code):
    return ffi.string(lib.kpf_status_string(int(code))).decode("utf-8", "replace")


def new_error():
    return ffi.new("kpf_error *")


def new_struct(name):
    """A zeroed struct `name` for C to read or fill, allocated four times
    over: the option and diagnostic structs carry no struct_size, so a field
    that a newer libkpf appends is read as 0 from, or written into, this
    padding instead of past the allocation.  Use it as x[0].field; pass x."""
    return ffi.new(f"{name}[4]")


def check(rc, err):
    """Raise Error for a non-zero status rc, with err's message."""
    if rc:
        msg = ffi.string(err.msg).decode("utf-8", "replace") or status_string(rc)
        raise Error(rc, msg)


def cstr(p):
    return ffi.string(p).decode("utf-8", "replace") if p != ffi.NULL else None


# ARPACK keeps SAVE state: at most one matrix-free solve per process at a time
# (kpf/spectral.h).  Every eigensolver call takes this lock.
ARPACK_LOCK = threading.Lock()

# ---- the registry: model plugins and tasks ---------------------------------

_registry = None
_registry_lock = threading.Lock()


def search_path():
    """The folders scanned for plugins: $KPF_PLUGIN_PATH, then those beside
    the kpf executable this package belongs to (kpf_plugin_search_path)."""
    buf = ffi.new("char[]", 16384)
    lib.kpf_plugin_search_path(_config.exe_dir().encode(), buf, 16384)
    return ffi.string(buf).decode()


def registry():
    """The process's registry (built-in tasks plus every plugin found on
    search_path()), created on first use and kept until exit: plugin
    descriptors must outlive every model made from them, and models may
    still be freed while the interpreter shuts down, so the registry (and
    the plugins it dlopened) is deliberately never freed."""
    global _registry
    with _registry_lock:
        if _registry is None:
            out = ffi.new("kpf_registry **")
            err = new_error()
            check(lib.kpf_registry_alloc(out, err), err)
            reg = out[0]
            rc = lib.kpf_registry_scan(reg, search_path().encode(), err)
            if rc:
                lib.kpf_registry_free(reg)
                check(rc, err)
            _registry = reg
        return _registry


def load_config(d, name):
    """A kpf_config parsed from the dict d (written as YAML, see _yaml.py);
    `name` stands for the file name in located messages.  Freed when the
    returned cdata goes."""
    from . import _yaml
    text = _yaml.dump(d)
    out = ffi.new("kpf_config **")
    err = new_error()
    check(lib.kpf_config_load_string(text.encode(), name.encode(), out, err), err)
    return ffi.gc(out[0], lib.kpf_config_free)
