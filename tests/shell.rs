//! The shell (library and `vimage shell`), the demo and the command line.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vimage::userland::shell::Shell;
use vimage::{Host, Out, Time};

fn session(host: &Host, script: &str) -> (i32, String, String) {
    let (out, obuf) = Out::buffer();
    let (err, ebuf) = Out::buffer();
    let mut sh = Shell::new(host, out, err);
    sh.run_script(script.as_bytes());
    let s = |b: &std::rc::Rc<std::cell::RefCell<Vec<u8>>>| String::from_utf8_lossy(&b.borrow()).into_owned();
    (sh.status(), s(&obuf), s(&ebuf))
}

#[test]
fn jobs_wait_kill_and_virtual_time() {
    let host = Host::new(Default::default());
    let (st, out, err) = session(
        &host,
        "sleep 5 &
         sleep 1 &
         jobs
         wait %2
         echo two is done
         jobs
         kill %1
         wait
         jobs
         echo end",
    );
    assert_eq!(err, "");
    assert_eq!(st, 0, "a killed job is not a failure");
    assert_eq!(
        out,
        "[1]  Running                sleep 5 &\n[2]  Running                sleep 1 &\ntwo is done\n[1]  Running                sleep 5 &\nend\n"
    );
    assert_eq!(
        host.now(),
        Time(1_000_000_000),
        "killed at t=1s, before its 5 s were up"
    );
}

#[test]
fn errors_are_one_line_and_the_shell_goes_on() {
    let host = Host::new(Default::default());
    let dir = std::env::temp_dir().join(format!("vimage-shell-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let f = dir.join("out.txt");
    let f = f.display();
    let (st, out, err) = session(
        &host,
        &format!(
            "# a comment
             echo one > {f}
             sysctl -n net.inet.ip.ttl >> {f}
             sysctl net.inet.nope
             nosuchcommand 'a b'
             kill %9
             cat < /nonexistent/file
             jail -c name=x persist
             jls name
             echo still going
             echo 'unterminated
             echo never"
        ),
    );
    assert_eq!(st, 1, "something failed");
    assert_eq!(out, "x\nstill going\n");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        vec![
            "sysctl: unknown oid 'net.inet.nope'",
            "vimage: nosuchcommand: command not found (try 'help')",
            "vimage: %9: no such job",
            "vimage: cannot open /nonexistent/file: No such file or directory",
            "vimage: line 11: syntax error: unterminated single quote",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).ok().as_deref(),
        Some("one\n64\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exit_status() {
    let host = Host::new(Default::default());
    assert_eq!(session(&host, "echo a\nexit 3\necho never").0, 3);
    assert_eq!(session(&host, "echo a\nexit\n").0, 0);
    assert_eq!(session(&host, "sysctl nope\nexit").0, 1);
    assert_eq!(session(&host, "sleep 1 &\nwait").0, 0);
    assert_eq!(session(&host, "sleep x &\nwait").0, 1, "a failed background job counts");
}

fn vimage(args: &[&str], stdin: &str) -> (i32, String, String, Duration) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vimage"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vimage");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes()).expect("stdin");
    }
    let o = child.wait_with_output().expect("wait");
    let s = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (o.status.code().unwrap_or(-1), s(o.stdout), s(o.stderr), t.elapsed())
}

#[test]
fn the_binary_runs_scripts_from_stdin() {
    let (st, out, err, _) = vimage(
        &["shell"],
        "jail -c name=r1 vnet persist host.hostname=r1\njexec r1 sysctl net.inet.ip.forwarding=1\njls name host.hostname\n",
    );
    assert_eq!((st, err.as_str()), (0, ""));
    assert_eq!(out, "net.inet.ip.forwarding: 0 -> 1\nr1 r1\n");
    let (st, _, err, _) = vimage(&["shell"], "sysctl nope\necho after\n");
    assert_eq!((st, err.as_str()), (1, "sysctl: unknown oid 'nope'\n"));
}

#[test]
fn the_binary_runs_one_command_and_seeds_and_clocks() {
    let (st, out, _, _) = vimage(&["--seed", "99", "sysctl", "-n", "kern.vimage.seed"], "");
    assert_eq!((st, out.as_str()), (0, "99\n"));
    // Virtual time: an hour passes at once.
    let (st, _, _, took) = vimage(&["sleep", "3600"], "");
    assert_eq!(st, 0);
    assert!(took < Duration::from_secs(60));
    // Real time: it takes what it says.
    let (st, out, _, took) = vimage(
        &["--clock", "real", "shell"],
        "sysctl -n kern.vimage.clock\nsleep 300ms\n",
    );
    assert_eq!((st, out.as_str()), (0, "real\n"));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let (st, _, err, _) = vimage(&["--clock", "sundial"], "");
    assert_eq!(st, 2);
    assert!(err.contains("unknown clock 'sundial'"), "{err}");
}

#[test]
fn removing_a_jail_kills_its_processes() {
    // jail -r kills every process in the jail and below (FreeBSD's
    // prison_remove: SIGKILL to each), so its jobs end and wait returns.
    let host = Host::new(Default::default());
    let (st, out, err) = session(
        &host,
        "jail -c name=j1 vnet persist
         jail -c name=j2 vnet persist children.max=1
         jail -c name=j2.sub vnet persist
         jexec j2 iperf3 -s &
         jexec j2.sub nc -l 80 &
         jexec j1 nc -l 80 &
         jobs
         jail -r j2
         jobs
         kill %3
         wait
         jls name
         echo end",
    );
    assert_eq!(err, "");
    assert_eq!(st, 0, "{out}");
    assert_eq!(
        out,
        "[1]  Running                jexec j2 iperf3 -s &\n\
         [2]  Running                jexec j2.sub nc -l 80 &\n\
         [3]  Running                jexec j1 nc -l 80 &\n\
         -----------------------------------------------------------\n\
         Server listening on 5201 (test #1)\n\
         -----------------------------------------------------------\n\
         [3]  Running                jexec j1 nc -l 80 &\n\
         j1\nend\n"
    );
}
