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
//! leptos_axum 0.9 creates those owners detached; until then this layer
//! makes the thread-local per request for those two handlers: before each
//! poll of such a request's future it makes that request's owner (none at
//! first) current, and after it puts back what the thread had. Page renders
//! make a root of their own and are left as Leptos runs them. (The pages
//! that once never answered in CI were not this layer's doing: see
//! `startup::routes`.)

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::http::Request;
use leptos::reactive::owner::Owner;
use tower::{Layer, Service};

/// Which requests get an owner scope of their own.
#[derive(Clone, Debug)]
pub struct OwnerPerRequestLayer {
    /// `None`: every request (the static-file and error handler); else the
    /// requests for these paths (the server functions').
    paths: Option<Arc<HashSet<&'static str>>>,
}

impl OwnerPerRequestLayer {
    /// Every request the wrapped service handles.
    pub fn all() -> Self {
        Self { paths: None }
    }

    /// The server functions' requests only; anything else (pages above
    /// all) passes through as it came.
    pub fn server_functions() -> Self {
        let paths = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path)
            .collect();
        Self {
            paths: Some(Arc::new(paths)),
        }
    }
}

impl<S> Layer<S> for OwnerPerRequestLayer {
    type Service = OwnerPerRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OwnerPerRequest {
            inner,
            paths: self.paths.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct OwnerPerRequest<S> {
    inner: S,
    paths: Option<Arc<HashSet<&'static str>>>,
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
        let scoped = self
            .paths
            .as_ref()
            .is_none_or(|paths| paths.contains(request.uri().path()));
        if !scoped {
            return Scoped {
                inner: self.inner.call(request),
                owner: None,
                scoped,
            };
        }
        let mut owner = None;
        let inner = in_scope(&mut owner, || self.inner.call(request));
        Scoped {
            inner,
            owner,
            scoped,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        // The request's current owner between polls.
        owner: Option<Owner>,
        // Whether the request runs in a scope of its own.
        scoped: bool,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        if !*this.scoped {
            return inner.poll(cx);
        }
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

    #[test]
    fn the_server_functions_scope_covers_their_paths_and_no_page() {
        let layer = OwnerPerRequestLayer::server_functions();
        let paths = layer.paths.as_deref().unwrap();
        assert!(paths.contains("/api/abandon_checkout"), "{paths:?}");
        assert!(!paths.contains("/credits"), "{paths:?}");
    }
}
