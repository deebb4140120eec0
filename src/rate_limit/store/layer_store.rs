//! [`LayerStore`], how a layer holds its store.

use std::{any::Any, sync::Arc, time::Duration};

use super::{
    decision::{Cell, CellOutcome, DecideFuture, RateLimitStore, StoreError},
    memory::MemoryStore,
};

/// A layer's store: the [`MemoryStore`] (the default, and the one on the hot path of most
/// services) held inline, so deciding a request is a direct, inlinable call; any other
/// store (Redis, a user's) behind a trait object.
#[derive(Debug, Clone)]
pub(crate) enum LayerStore {
    Memory(MemoryStore),
    Dyn(Arc<dyn RateLimitStore>),
}

impl LayerStore {
    /// `store`, inline if it is a [`MemoryStore`].
    pub(crate) fn new<S: RateLimitStore>(store: S) -> Self {
        let mut slot = Some(store);
        if let Some(m) = (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<MemoryStore>>()
            .and_then(Option::take)
        {
            return Self::Memory(m);
        }
        match slot {
            Some(s) => Self::Dyn(Arc::new(s)),
            None => Self::default(),
        }
    }
}

impl Default for LayerStore {
    fn default() -> Self {
        Self::Memory(MemoryStore::new())
    }
}

impl RateLimitStore for LayerStore {
    fn decide(&self, cells: &[Cell<'_>]) -> DecideFuture {
        match self {
            Self::Memory(s) => s.decide(cells),
            Self::Dyn(s) => s.decide(cells),
        }
    }

    fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
        match self {
            Self::Memory(s) => s.peek(cells),
            Self::Dyn(s) => s.peek(cells),
        }
    }

    #[inline]
    fn decide_one(&self, cell: &Cell<'_>) -> Option<Result<CellOutcome, StoreError>> {
        match self {
            Self::Memory(s) => s.decide_one(cell),
            Self::Dyn(s) => s.decide_one(cell),
        }
    }

    fn max_window(&self) -> Option<Duration> {
        match self {
            Self::Memory(s) => s.max_window(),
            Self::Dyn(s) => s.max_window(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{store::ManualClock, Key, Quota};

    #[derive(Debug)]
    struct Custom;

    impl RateLimitStore for Custom {
        fn decide(&self, _cells: &[Cell<'_>]) -> DecideFuture {
            DecideFuture::ready(Err(StoreError::new("test", "custom")))
        }
        fn peek(&self, cells: &[Cell<'_>]) -> DecideFuture {
            self.decide(cells)
        }
    }

    #[test]
    fn the_memory_store_is_held_inline_and_others_behind_a_pointer() {
        let clock = ManualClock::new();
        let store = LayerStore::new(MemoryStore::new().clock(clock));
        assert!(matches!(store, LayerStore::Memory(_)));
        let cell = Cell::new(
            0,
            "p",
            Key::Global,
            Quota::per_second(1).validate().unwrap(),
            1,
        );
        assert!(store.decide_one(&cell).unwrap().unwrap().allowed);
        assert!(!store.decide_one(&cell).unwrap().unwrap().allowed);

        let custom = LayerStore::new(Custom);
        assert!(matches!(custom, LayerStore::Dyn(_)));
        assert!(custom.decide_one(&cell).is_none());
        let err = custom.decide(&[cell]).try_take().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            Custom
                .decide(&[])
                .try_take()
                .unwrap()
                .unwrap_err()
                .to_string()
        );
    }
}
