//! Each request sees its own Leptos reactive owner, never another's.
//!
//! Leptos keeps "the current owner" in a thread-local. Rendering a page
//! makes the page's root owner current (`Owner::new_root`) and leaves it
//! there when the handler yields, so the next request polled on that worker
//! thread finds it. leptos_axum 0.8's static-file handler and server
//! function handler then create their owner with `Owner::new()`, a *child*
//! of whatever is current: a file served while another visitor's page was
//! rendering took that page's status and headers from the page's
//! `ResponseOptions` (a wasm file answered 403 beside a refused admin page,
//! and took the headers away from the page they were meant for).
//! leptos_axum 0.9 creates those owners detached; until then this layer,
//! around the whole router, makes the thread-local per request: before each
//! poll of a request's future it makes that request's owner (none at first)
//! current, and after it puts back what the thread had. A page render makes
//! its root in its own scope and keeps it there between polls. (The pages
//! that once never answered in CI were not this layer's doing: see
//! `startup::routes`.)

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::http::Request;
use leptos::reactive::owner::Owner;
use tower::{Layer, Service};

/// Gives every request an owner scope of its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnerPerRequestLayer;

impl<S> Layer<S> for OwnerPerRequestLayer {
    type Service = OwnerPerRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OwnerPerRequest { inner }
    }
}

#[derive(Clone, Debug)]
pub struct OwnerPerRequest<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for OwnerPerRequest<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut owner = None;
        let inner = in_scope(&mut owner, || self.inner.call(request));
        Scoped { inner, owner }
    }
}

pin_project_lite::pin_project! {
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        // The request's current owner between polls.
        owner: Option<Owner>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        in_scope(this.owner, || inner.poll(cx))
    }
}

/// Runs `f` with `slot` as the thread's current owner, then stores what `f`
/// left current back in `slot` and restores the thread's own (also when
/// `f` panics).
fn in_scope<T>(slot: &mut Option<Owner>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Owner>);
    impl Drop for Restore {
        fn drop(&mut self) {
            make_current(self.0.take());
        }
    }
    let _restore = Restore(Owner::current());
    make_current(slot.take());
    let result = f();
    *slot = Owner::current();
    result
}

fn make_current(owner: Option<Owner>) {
    match owner {
        Some(owner) => owner.set(),
        None => {
            if let Some(current) = Owner::current() {
                current.unset();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use leptos::prelude::{provide_context, use_context};

    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Marker(&'static str);

    #[test]
    fn a_scope_starts_with_no_owner_and_keeps_its_own_between_polls() {
        // Another request's page left its root current on this thread.
        let leaked = Owner::new();
        leaked.with(|| provide_context(Marker("someone else's page")));
        leaked.set();

        let mut slot = None;
        // What the request's future holds (a page keeps its root).
        let mut mine = None;
        in_scope(&mut slot, || {
            let child = Owner::new();
            assert_eq!(child.with(use_context::<Marker>), None);
            let root = Owner::new();
            root.with(|| provide_context(Marker("mine")));
            root.set();
            mine = Some(root);
        });
        // The thread has its own back; the request keeps its owner.
        assert!(Owner::current().is_some_and(|o| o == leaked));
        in_scope(&mut slot, || {
            assert_eq!(use_context::<Marker>(), Some(Marker("mine")));
        });
        assert!(Owner::current().is_some_and(|o| o == leaked));
        drop(mine);
        leaked.unset();
    }
}
