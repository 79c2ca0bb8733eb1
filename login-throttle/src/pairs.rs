//! The remembered (username, client address) pairs and their failures:
//! pure bookkeeping, with the time passed in.

use std::collections::HashMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::config::ThrottleConfig;

/// One username from one client: the username by a hash (the table keeps
/// no usernames, and a long one costs no more memory), the address by its
/// IPv4 (mapped) or its IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Pair {
    username: [u8; 16],
    /// The address: its IPv4 mapped to IPv6, or its IPv6 /64.
    pub(crate) client: u128,
}

impl Pair {
    pub(crate) fn new(username: &str, client: IpAddr) -> Pair {
        let digest = Sha256::digest(username.as_bytes());
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        let client = match client.to_canonical() {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6) & !u128::from(u64::MAX),
        };
        Pair {
            username: key,
            client,
        }
    }
}

/// What is known of one pair.
#[derive(Debug, Clone, Copy)]
struct Failures {
    in_a_row: u32,
    /// When the last failure was counted.
    last: i64,
    /// Until when the pair is refused; in the past when it is not waiting.
    wait_until: i64,
}

impl Failures {
    fn forgotten(&self, now: i64, rules: &ThrottleConfig) -> bool {
        now >= self.wait_until && now - self.last >= rules.forget_after as i64
    }
}

/// The remembered pairs; pure bookkeeping with the time passed in.
#[derive(Debug, Default)]
pub(crate) struct Pairs {
    by_pair: HashMap<Pair, Failures>,
}

impl Pairs {
    /// How many pairs are remembered.
    pub(crate) fn len(&self) -> usize {
        self.by_pair.len()
    }

    /// Seconds `pair` must still wait, if it must.
    pub(crate) fn waiting(&mut self, pair: &Pair, now: i64, rules: &ThrottleConfig) -> Option<u64> {
        let failures = *self.by_pair.get(pair)?;
        if failures.forgotten(now, rules) {
            self.by_pair.remove(pair);
            return None;
        }
        (failures.wait_until > now).then(|| (failures.wait_until - now) as u64)
    }

    /// Counts a failure of `pair` ahead of its check; answers the wait it
    /// would start (0 for none), or the seconds left when it must wait.
    pub(crate) fn count_failure(
        &mut self,
        pair: Pair,
        now: i64,
        rules: &ThrottleConfig,
    ) -> Result<u64, u64> {
        if let Some(retry_after) = self.waiting(&pair, now, rules) {
            return Err(retry_after);
        }
        if !self.by_pair.contains_key(&pair) {
            self.make_room(now, rules);
        }
        let failures = self.by_pair.entry(pair).or_insert(Failures {
            in_a_row: 0,
            last: now,
            wait_until: i64::MIN,
        });
        failures.in_a_row = failures.in_a_row.saturating_add(1);
        failures.last = now;
        let wait = rules.wait_after(failures.in_a_row);
        if wait > 0 {
            failures.wait_until = now + wait as i64;
        }
        Ok(wait)
    }

    /// A success: the pair starts from nothing.
    pub(crate) fn clear(&mut self, pair: &Pair) {
        self.by_pair.remove(pair);
    }

    /// Makes room for one more pair when the table is full: forgets what
    /// is forgotten, then drops the pairs worth least (fewest failures,
    /// oldest first). Room is made for an eighth of the table at once, so
    /// the sweep's cost is spread over many insertions.
    fn make_room(&mut self, now: i64, rules: &ThrottleConfig) {
        let capacity = rules.tracked_pairs;
        if self.by_pair.len() < capacity {
            return;
        }
        self.by_pair.retain(|_, f| !f.forgotten(now, rules));
        let keep = capacity - (capacity / 8).max(1);
        if self.by_pair.len() <= keep {
            return;
        }
        let mut worth: Vec<_> = self
            .by_pair
            .iter()
            .map(|(pair, f)| (f.in_a_row.min(rules.allowed_failures), f.last, *pair))
            .collect();
        let drop = self.by_pair.len() - keep;
        worth.select_nth_unstable_by_key(drop - 1, |&(failures, last, _)| (failures, last));
        for (_, _, pair) in &worth[..drop] {
            self.by_pair.remove(pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ThrottleConfig {
        ThrottleConfig {
            tracked_pairs: 16,
            ..ThrottleConfig::default()
        }
    }

    fn pair(name: &str) -> Pair {
        Pair::new(name, "192.0.2.1".parse().unwrap())
    }

    #[test]
    fn ipv4_mapped_and_one_ipv6_slash_64_are_one_client() {
        let v4 = Pair::new("a", "192.0.2.1".parse().unwrap());
        let mapped = Pair::new("a", "::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(v4, mapped);
        let one = Pair::new("a", "2001:db8::1".parse().unwrap());
        let same_64 = Pair::new("a", "2001:db8::ffff:1".parse().unwrap());
        let other_64 = Pair::new("a", "2001:db8:0:1::1".parse().unwrap());
        assert_eq!(one, same_64);
        assert_ne!(one, other_64);
        assert_ne!(Pair::new("a", "192.0.2.1".parse().unwrap()), pair("b"));
    }

    #[test]
    fn a_waiting_pair_is_refused_until_its_wait_ends() {
        let rules = rules();
        let mut pairs = Pairs::default();
        for _ in 0..4 {
            assert_eq!(pairs.count_failure(pair("a"), 100, &rules), Ok(0));
        }
        assert_eq!(pairs.count_failure(pair("a"), 100, &rules), Ok(30));
        assert_eq!(pairs.waiting(&pair("a"), 110, &rules), Some(20));
        assert_eq!(pairs.count_failure(pair("a"), 110, &rules), Err(20));
        assert_eq!(pairs.waiting(&pair("a"), 130, &rules), None);
        assert_eq!(pairs.count_failure(pair("a"), 130, &rules), Ok(60));
    }

    #[test]
    fn a_quiet_pair_is_forgotten_but_not_while_it_waits() {
        let rules = ThrottleConfig {
            forget_after: 10,
            backoff: 100,
            max_backoff: 100,
            ..rules()
        };
        let mut pairs = Pairs::default();
        pairs.count_failure(pair("quiet"), 0, &rules).unwrap();
        assert_eq!(pairs.waiting(&pair("quiet"), 10, &rules), None);
        assert!(pairs.by_pair.is_empty(), "forgotten");
        for _ in 0..5 {
            pairs.count_failure(pair("waits"), 0, &rules).unwrap();
        }
        assert_eq!(pairs.waiting(&pair("waits"), 50, &rules), Some(50));
    }

    #[test]
    fn a_full_table_drops_the_fewest_failures_first() {
        let rules = rules();
        let mut pairs = Pairs::default();
        for _ in 0..5 {
            pairs.count_failure(pair("target"), 0, &rules).unwrap();
        }
        for n in 0..1000 {
            pairs
                .count_failure(pair(&format!("flood-{n}")), 1 + n, &rules)
                .unwrap();
            assert!(pairs.by_pair.len() <= 16);
        }
        assert_eq!(pairs.waiting(&pair("target"), 20, &rules), Some(10));
    }
}
