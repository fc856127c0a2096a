//! The requests in flight: a handful at a time, so a small vector in id order serves better than
//! a tree (and keeps the browser build smaller).

use crate::proto::RequestId;

/// In-flight requests by id, in the order they were made.
#[derive(Debug)]
pub(super) struct Requests<T> {
    entries: Vec<(RequestId, T)>,
}

impl<T> Default for Requests<T> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<T> Requests<T> {
    /// Adds a request (ids only grow, so order is kept).
    pub fn insert(&mut self, req: RequestId, value: T) {
        self.entries.push((req, value));
    }

    /// Removes a request.
    pub fn remove(&mut self, req: RequestId) -> Option<T> {
        let at = self.entries.iter().position(|(r, _)| *r == req)?;
        Some(self.entries.remove(at).1)
    }

    /// A request.
    pub fn get(&self, req: RequestId) -> Option<&T> {
        self.entries.iter().find(|(r, _)| *r == req).map(|(_, v)| v)
    }

    /// A request, to change.
    pub fn get_mut(&mut self, req: RequestId) -> Option<&mut T> {
        self.entries.iter_mut().find(|(r, _)| *r == req).map(|(_, v)| v)
    }

    /// Every request, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&RequestId, &T)> {
        self.entries.iter().map(|(r, v)| (r, v))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map() {
        let mut r = Requests::default();
        r.insert(1, "a");
        r.insert(2, "b");
        r.insert(3, "c");
        assert_eq!(r.get(2), Some(&"b"));
        *r.get_mut(2).unwrap() = "B";
        assert_eq!(r.remove(2), Some("B"));
        assert_eq!(r.remove(2), None);
        assert_eq!(r.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(r.len(), 2);
    }
}
