//! A packetdrill script as read (docs/PACKETDRILL.md): its options and
//! its events, each with its time and line. Field values the script
//! leaves to the stack (`...`, an omitted `win`) are `None`.

/// A whole script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// `--name=value` lines, in order (`--non_fatal=syscall`).
    pub options: Vec<(String, String)>,
    /// A command before the first event and one after the last (no time).
    pub init: Option<String>,
    pub cleanup: Option<String>,
    pub events: Vec<Event>,
}

/// When an event happens, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Since the script began (`0.100`).
    At(i64),
    /// After the previous event was done (`+0.1`).
    After(i64),
    /// Any time (`*`, outbound packets only).
    Any,
    /// A blocking call's start and end (`1.00...6.00`, `+0...+5`).
    Span(i64, i64, bool),
}

/// One line of the script that happens.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub line: usize,
    pub when: When,
    pub what: What,
}

#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// A backquoted shell command.
    Command(String),
    Call(Call),
    Packet(Packet),
    /// `%{ python }%`: read, not run.
    Code(String),
}

/// A system call and what it must return.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Expr>,
    pub ret: Expr,
    /// `EINPROGRESS` of `= -1 EINPROGRESS (Operation now in progress)`.
    pub errno: Option<String>,
}

/// An argument or a result.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `...`: whatever the runner supplies, or anything.
    Any,
    Int(i64),
    /// `SOCK_STREAM`, `O_RDWR`.
    Sym(String),
    /// `O_RDWR | O_NONBLOCK`.
    Or(Vec<Expr>),
    /// `[1]`: a pointer to a value; `[a, b]` a list.
    List(Vec<Expr>),
    /// `{name=value, ...}`.
    Struct(Vec<(String, Expr)>),
    Str(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// `<`: the runner sends it to the stack.
    In,
    /// `>`: the stack must send it.
    Out,
}

/// ECN in the IP header (RFC 3168).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ecn {
    NoEcn,
    Ect0,
    Ect1,
    Ce,
}

/// IP header fields a line names (`(tos 0x20)`, `[ect0]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpFields {
    pub ecn: Option<Ecn>,
    pub tos: Option<u32>,
    pub class: Option<u32>,
    pub ttl: Option<u32>,
    pub hlim: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub dir: Dir,
    pub ip: IpFields,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Tcp(Tcp),
    Icmp(Icmp),
}

/// A TCP segment line: `S. 0:0(0) ack 1 win 65535 <mss 1460,nop>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tcp {
    /// The flag letters as written (`S.`, `F.`, `SEW`, `-` for none).
    pub flags: String,
    /// Start, end, length; `None` for `...`.
    pub seq: Option<(u32, u32, u32)>,
    /// `!`: the sequence number as it is, not relative to an ISN.
    pub seq_absolute: bool,
    pub ack: Option<u32>,
    pub win: Option<u32>,
    /// `None` for `<...>` (not checked); empty when none are written.
    pub options: Option<Vec<TcpOpt>>,
    /// RFC 6951: `/udp(SRC > DST)`.
    pub udp: Option<(u16, u16)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOpt {
    Eol,
    Nop,
    Mss(u16),
    Wscale(u8),
    SackOk,
    Sack(Vec<(u32, u32)>),
    /// `TS val X ecr Y`: `None` for `...`; `!` marks an absolute ecr.
    Ts {
        val: Option<u32>,
        ecr: Option<u32>,
        ecr_absolute: bool,
    },
    /// RFC 7413's cookie option, with its cookie if any.
    FastOpen(Option<Vec<u8>>),
    /// RFC 2385: `md5 valid`.
    Md5,
}

/// `icmp unreachable frag_needed mtu 1234 [0:0(0)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Icmp {
    pub kind: String,
    pub code: Option<String>,
    pub mtu: Option<u32>,
    /// The segment it quotes, as written between brackets.
    pub quoted: Option<String>,
}
