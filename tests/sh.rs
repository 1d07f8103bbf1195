//! sh(1)'s grammar in vimage's shell: every construct on scripts, host
//! programs as filters in pipelines, redirections of both streams, job
//! numbers reused as sh reuses them, and the same language in lab files.

mod common;

use common::ok;
use common::script as sh;
use vimage::Host;

#[test]
fn every_construct() {
    let h = common::pair_lab("10.0.0.1/24", "10.0.0.2/24");
    let (st, out, err) = sh(
        &h,
        r#"# variables, quoting, parameter expansion
peer=10.0.0.2
name="two words"
echo "$name" '$name' ${name%% *} ${#name} ${unset:-dflt} ${peer:+set}
# lists: ; && || and !
true && echo and; false || echo or; ! false && echo not
false; echo "status $?"
# for, while, until, if/elif/else, case
for j in a b; do
  echo "$j: $(jexec $j ifconfig -l)"
done
n=0
while [ $n -lt 3 ]; do n=$((n + 1)); done
until [ $n -eq 0 ]; do n=$((n - 1)); done
echo "n=$n"
if [ "$peer" = 10.0.0.1 ]; then echo one; elif [ "$peer" = 10.0.0.2 ]; then echo two; else echo none; fi
case $(jexec a ifconfig -l) in
  *epair0a*) echo "a has epair0a" ;;
  *) echo "a has no epair0a" ;;
esac
# functions with arguments and return
reach() {
  jexec "$1" ping -q -c 1 -t 1 "$2" > /dev/null && return 0
  return 1
}
if reach a $peer; then echo "a reaches $peer"; fi
reach a 10.0.0.99 || echo "a does not reach 10.0.0.99 ($?)"
# pipelines of vimage commands and host filters
jexec a sysctl -a | grep -c '^net.inet.tcp.cc.algorithm:'
jexec a netstat -rn -f inet | grep epair0a | wc -l | tr -d ' '
# command substitution and arithmetic
echo "lo0 mtu $(jexec a ifconfig lo0 | head -1 | sed 's/.*mtu //')" $((6 * 7))
# redirections: 2>, 2>&1, >>, <, here-documents
jexec a sysctl no.such.oid 2> /dev/null || echo "hidden error"
jexec a sysctl no.such.oid 2>&1 | sed 's/^/got: /'
cat <<END
here $peer
END
cat <<'END'
literal $peer
END
# subshells and groups
(peer=changed; echo "in $peer"); echo "out $peer"
{ echo grouped; echo lines; } | wc -l | tr -d ' '
"#,
    );
    assert_eq!(err, "", "{out}");
    assert_eq!(
        st, 1,
        "the lone `false` is a failure (the others are conditions): {out}"
    );
    assert_eq!(
        out,
        "two words $name two 9 dflt set\n\
         and\nor\nnot\nstatus 1\n\
         a: lo0 epair0a\nb: lo0 epair0b\n\
         n=0\n\
         two\n\
         a has epair0a\n\
         a reaches 10.0.0.2\n\
         a does not reach 10.0.0.99 (1)\n\
         1\n\
         1\n\
         lo0 mtu 16384 42\n\
         hidden error\n\
         got: sysctl: unknown oid 'no.such.oid'\n\
         here 10.0.0.2\n\
         literal $peer\n\
         in changed\nout 10.0.0.2\n\
         2\n"
    );
}

#[test]
fn host_filters_see_everything_a_vimage_command_prints() {
    // sysctl -a | grep tcp | wc -l: the count the host's own tools find
    // in sysctl's output.
    let h = Host::new(Default::default());
    let all = ok(&h, "sysctl -a");
    let want = all.lines().filter(|l| l.contains("tcp")).count();
    let (st, out, err) = sh(&h, "sysctl -a | grep tcp | wc -l");
    assert_eq!((st, err.as_str()), (0, ""));
    assert_eq!(out.trim(), want.to_string());
    // A host producer feeding a vimage consumer, and a filter's status.
    let (st, out, _) = sh(
        &h,
        "printf 'net.inet.ip.ttl\\n' | xargs echo; echo x | grep -q y; echo $?",
    );
    assert_eq!(st, 1, "grep -q failed");
    assert_eq!(out, "net.inet.ip.ttl\n1\n");
    let (st, out, _) = sh(&h, "printf 'a b\\n' | while read x y; do echo \"$y $x\"; done");
    assert_eq!((st, out.as_str()), (0, "b a\n"));
    // A filter that stops reading ends the writer (SIGPIPE).
    let (st, out, _) = sh(
        &h,
        "jail -c name=j vnet persist\njexec j ping -i 0.01 127.0.0.1 | head -2",
    );
    assert_eq!(st, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.starts_with("PING 127.0.0.1 (127.0.0.1): 56 data bytes\n64 bytes from 127.0.0.1"),
        "{out}"
    );
}

#[test]
fn job_numbers_are_reused() {
    let h = Host::new(Default::default());
    let (st, out, err) = sh(
        &h,
        "sleep 10 &
         sleep 20 &
         sleep 30 &
         kill %2
         sleep 40 &
         jobs
         wait
         jobs",
    );
    assert_eq!((st, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "[1]  Running                sleep 10 &\n\
         [2]  Running                sleep 40 &\n\
         [3]  Running                sleep 30 &\n"
    );
}

#[test]
fn lab_run_lines_speak_the_same_language() {
    let dir = common::tmpdir("sh-lab");
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        r#"name = "sh in labs"
[[node]]
name = "a"
[[node]]
name = "b"
[[link]]
ends = ["a", "b"]
[[event]]
at = "1s"
node = "a"
run = "for i in 1 2; do ping -c 1 -q b | grep -c 'packets received'; done 2>&1"
[[event]]
at = "2s"
node = "b"
run = "X=$(hostname); echo \"I am $X\" && sysctl -n net.inet.ip.ttl | tr 6 7"
"#,
    )
    .expect("lab");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vimage"))
        .arg("run")
        .arg(&lab)
        .output()
        .expect("vimage run");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("\n1\n1\n"), "{out}");
    assert!(out.contains("I am b\n74\n"), "{out}");
}
