//! Ethernet media (after `if_media.h`'s IFM_ETHER subtypes): the names
//! `ifconfig IF media` takes and shows, and the line rate each stands
//! for (`if_baudrate`). Under the virtual clock the rate is what a frame's
//! serialization takes.

/// (subtype name as ifconfig prints it, bit/s).
pub const IFM_ETHER_SUBTYPES: &[(&str, u64)] = &[
    ("10baseT/UTP", 10_000_000),
    ("100baseTX", 100_000_000),
    ("1000baseT", 1_000_000_000),
    ("2500Base-T", 2_500_000_000),
    ("5000Base-T", 5_000_000_000),
    ("10Gbase-T", 10_000_000_000),
    ("25GBase-CR", 25_000_000_000),
    ("40Gbase-CR4", 40_000_000_000),
    ("50GBase-CR2", 50_000_000_000),
    ("100GBase-CR4", 100_000_000_000),
    ("200GBase-CR4", 200_000_000_000),
    ("400GBase-CR8", 400_000_000_000),
];

/// The subtype a line rate is shown as.
pub fn ifmedia_name(baudrate: u64) -> Option<&'static str> {
    IFM_ETHER_SUBTYPES.iter().find(|(_, r)| *r == baudrate).map(|(n, _)| *n)
}

/// `ifconfig IF media NAME`: the rate of a subtype (any case; `10baseT`
/// for `10baseT/UTP`).
pub fn ifmedia_parse(name: &str) -> Option<u64> {
    IFM_ETHER_SUBTYPES
        .iter()
        .find(|(n, _)| {
            n.eq_ignore_ascii_case(name) || n.split('/').next().is_some_and(|s| s.eq_ignore_ascii_case(name))
        })
        .map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rates() {
        assert_eq!(ifmedia_name(10_000_000_000), Some("10Gbase-T"));
        assert_eq!(ifmedia_parse("1000baset"), Some(1_000_000_000));
        assert_eq!(ifmedia_parse("10baseT"), Some(10_000_000));
        assert_eq!(ifmedia_parse("autoselect"), None);
    }
}
