//! Browser entry: hydrates the HTML the server rendered. `hydrate_lazy`, as
//! the admin routes are lazy (app/src/pages/lazy.rs): hydrating one loaded
//! directly waits for its wasm chunk.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
