//! How many queries each user may have running at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{Error, Result};

/// Counts running queries per user and refuses one past the cap.
#[derive(Debug, Clone)]
pub struct Admission {
    cap: usize,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// A running query's place; dropping it frees the place.
#[derive(Debug)]
pub struct Ticket {
    user: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl Admission {
    /// At most `cap` queries per user at once.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            running: Arc::default(),
        }
    }

    /// A place for one more query of `user`, or [`Error::Busy`].
    pub fn admit(&self, user: &str) -> Result<Ticket> {
        let mut running = self.running.lock().expect("admission");
        let count = running.entry(user.to_owned()).or_default();
        if *count >= self.cap {
            return Err(Error::Busy { limit: self.cap });
        }
        *count += 1;
        Ok(Ticket {
            user: user.to_owned(),
            running: self.running.clone(),
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut running = self.running.lock().expect("admission");
        if let Some(count) = running.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_past_the_cap_waits_for_a_ticket_to_drop_and_others_are_not_held() {
        let admission = Admission::new(2);
        let (a, _b) = (
            admission.admit("rita").unwrap(),
            admission.admit("rita").unwrap(),
        );
        assert!(matches!(
            admission.admit("rita"),
            Err(Error::Busy { limit: 2 })
        ));
        let _olga = admission.admit("olga").unwrap();
        drop(a);
        admission.admit("rita").unwrap();
    }
}
