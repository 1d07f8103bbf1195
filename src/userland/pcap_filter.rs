//! Capture filters in pcap-filter(7), compiled by libpcap itself
//! (`pcap_compile` on a dead handle of the interface's link type) and run
//! over each frame (`pcap_offline_filter`): the whole language tcpdump
//! users know, with libpcap's own error messages.

use crate::userland::print::LinkType;

/// A compiled filter.
pub struct Filter(pcap::BpfProgram);

impl Filter {
    /// Compile `words` (tcpdump joins them with spaces) for frames of
    /// `link`; `None` for an empty expression.
    pub fn compile(words: &[String], link: LinkType) -> Result<Option<Filter>, String> {
        let expr = words.join(" ");
        if expr.trim().is_empty() {
            return Ok(None);
        }
        let lt = match link {
            LinkType::Ether => pcap::Linktype::ETHERNET,
            LinkType::Null => pcap::Linktype::NULL,
        };
        let dead = pcap::Capture::dead(lt).map_err(message)?;
        dead.compile(&expr, true).map(|p| Some(Filter(p))).map_err(message)
    }

    /// Does the frame pass?
    pub fn matches(&self, frame: &[u8]) -> bool {
        self.0.filter(frame)
    }
}

/// libpcap's words for an error, without the crate's prefix.
pub fn message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    }
}
