//! Statistics allocated on first use (what counter(9) is to FreeBSD's
//! `struct tcpstat` and friends): an idle vnet pays a pointer per
//! protocol, not a page of zeros. Reading allocates too (netstat is rare).

use std::cell::OnceCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// Counters `T`, zero until first touched.
pub struct Counters<T>(OnceCell<Box<T>>);

impl<T> Default for Counters<T> {
    fn default() -> Self {
        Counters(OnceCell::new())
    }
}

impl<T: Default> Deref for Counters<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.get_or_init(Box::default)
    }
}

impl<T: Default> DerefMut for Counters<T> {
    fn deref_mut(&mut self) -> &mut T {
        if self.0.get().is_none() {
            let _ = self.0.set(Box::default());
        }
        self.0.get_mut().expect("set just above")
    }
}

impl<T: Default + fmt::Debug> fmt::Debug for Counters<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A statistics structure declared once: the struct of `u64` counters
/// (then, after a `;`, any other fields) and the list of (name, value)
/// its sysctl shows, every counter in declaration order.
#[macro_export]
macro_rules! stats {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $($(#[$fm:meta])* $f:ident),* $(,)?
            $(; $($(#[$xm:meta])* $x:ident : $t:ty),* $(,)?)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fm])* pub $f: u64,)*
            $($($(#[$xm])* pub $x: $t,)*)?
        }

        impl $name {
            /// Every counter by its name, as the sysctl shows them.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($f), self.$f)),*]
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_until_touched_then_counts() {
        #[derive(Default, Debug, PartialEq)]
        struct S {
            n: u64,
        }
        let mut c: Counters<S> = Counters::default();
        assert!(c.0.get().is_none());
        assert_eq!(c.n, 0);
        c.n += 2;
        c.n += 1;
        assert_eq!(*c, S { n: 3 });
    }

    crate::stats! {
        /// A test structure.
        pub struct Demo {
            first,
            /// Documented.
            second,
            ;
            other: Vec<u8>,
        }
    }

    #[test]
    fn a_stats_declaration_lists_every_counter_in_order() {
        let d = Demo {
            first: 1,
            second: 2,
            other: vec![9],
        };
        assert_eq!(d.fields(), vec![("first", 1), ("second", 2)]);
    }
}
