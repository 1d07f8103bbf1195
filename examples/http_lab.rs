//! A small web service in one jail and clients in two others, each on
//! its own network behind a router — with vimage's socket API and nothing else.
//!
//! The server is ordinary async Rust written against futures'
//! `AsyncRead`/`AsyncWrite` (with the `tokio` feature the same sockets
//! implement tokio's traits): it does not know it runs in a vnet.
//!
//! `cargo run --example http_lab`

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use vimage::socket::{TcpListener, TcpStream};
use vimage::{Host, Jid, Stdio};

/// Answer one HTTP/1.0 request on any byte stream.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, name: &str) -> std::io::Result<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let body = format!("hello from {name}, you asked for {path}\n");
    let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.close().await
}

fn main() {
    let host = Host::new(Default::default());
    for cmd in [
        "jail -c name=web vnet persist host.hostname=web",
        "jail -c name=router vnet persist",
        "jail -c name=alice vnet persist",
        "jail -c name=bob vnet persist",
        "ifconfig epair0 create",
        "ifconfig epair1 create",
        "ifconfig epair0a vnet web",
        "ifconfig epair0b vnet router",
        "ifconfig epair1a vnet router",
        "ifconfig epair1b vnet alice",
        "jexec web ifconfig epair0a inet 192.0.2.80/24 up",
        "jexec router ifconfig epair0b inet 192.0.2.1/24 up",
        "jexec router ifconfig epair1a inet 198.51.100.1/24 up",
        "jexec alice ifconfig epair1b inet 198.51.100.10/24 up",
        "jexec router sysctl net.inet.ip.forwarding=1",
        "jexec web route add default 192.0.2.1",
        "jexec alice route add default 198.51.100.1",
        "ifconfig epair2 create",
        "ifconfig epair2a vnet router",
        "ifconfig epair2b vnet bob",
        "jexec router ifconfig epair2a inet 203.0.113.1/24 up",
        "jexec bob ifconfig epair2b inet 203.0.113.20/24 up",
        "jexec bob route add default 203.0.113.1",
    ] {
        let o = host.exec(cmd);
        assert!(o.success(), "{cmd}: {}", o.stderr);
    }
    let jail = |n: &str| host.kernel().jail_getid(Jid::HOST, n).expect("jail");
    let web = host.proc(jail("web"), Stdio::inherit());
    let listener = TcpListener::bind(&web, "0.0.0.0:80".parse().expect("addr")).expect("bind");
    host.tasks().spawn(Box::pin(async move {
        loop {
            let Ok((s, peer)) = listener.accept().await else {
                return 1;
            };
            println!("web: connection from {peer}");
            let _ = serve(s, "web").await;
        }
    }));
    for (who, path) in [("alice", "/index.html"), ("bob", "/about")] {
        let p = host.proc(jail(who), Stdio::inherit());
        let page = host
            .block_on(async move {
                let mut s = TcpStream::connect(&p, "192.0.2.80:80".parse().expect("addr")).await?;
                s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await?;
                let mut page = String::new();
                AsyncReadExt::read_to_string(&mut s, &mut page).await?;
                Ok::<_, std::io::Error>(page)
            })
            .expect("the engine ran")
            .expect("the page");
        println!("{who} got:\n{page}");
    }
    print!("{}", host.exec("jexec web netstat -an").stdout);
}
