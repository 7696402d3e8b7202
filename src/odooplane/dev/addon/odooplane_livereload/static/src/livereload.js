/** @odoo-module **/
// odooplane dev: reload this tab when the project changes, or swap its stylesheets only
// when nothing but stylesheets changed. Installed in development databases only.

// A bundle URL names its version (/web/assets/<version>/<bundle>.min.css) and Odoo keeps
// serving the old attachment at the old URL. Asked for a version that never existed, it
// builds the bundle from the files and redirects to the current version.
const BUNDLE_PATH = /^(\/web\/assets\/)([^/]+)(\/[^/]+\.css)$/;

function swapStylesheets() {
    const stamp = Date.now();
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
        const href = link.getAttribute("href");
        if (!href) {
            continue;
        }
        const url = new URL(href, window.location.href);
        const bundle = url.pathname.match(BUNDLE_PATH);
        if (bundle && bundle[2] !== "debug") {
            url.pathname = `${bundle[1]}livereload-${stamp}${bundle[3]}`;
        }
        url.searchParams.set("livereload", String(stamp));
        const fresh = link.cloneNode();
        fresh.href = url.toString();
        // Remove the old sheet only once the new one applied: no flash of unstyled page.
        fresh.addEventListener("load", () => link.remove());
        fresh.addEventListener("error", () => fresh.remove());
        link.after(fresh);
    }
}

// window.__odooplaneLiveReload tells where the tab stands: "connecting" until the dev
// session greets it, "connected" while edits reach it, "idle" outside `odooplane dev`.
// An edit saved while "connecting" is not seen by this tab.
async function connect() {
    let config;
    try {
        const response = await fetch("/odooplane_livereload/config", { credentials: "omit" });
        config = await response.json();
    } catch {
        window.__odooplaneLiveReload = "idle";
        return;
    }
    if (!config || !config.url || typeof EventSource === "undefined") {
        window.__odooplaneLiveReload = "idle";
        return;
    }
    const source = new EventSource(config.url);
    source.addEventListener("hello", () => {
        window.__odooplaneLiveReload = "connected";
    });
    // EventSource reconnects by itself (the dev session restarted); the next hello says so.
    source.addEventListener("error", () => {
        window.__odooplaneLiveReload = "connecting";
    });
    source.addEventListener("reload", () => window.location.reload());
    source.addEventListener("css", swapStylesheets);
}

if (!window.__odooplaneLiveReload) {
    window.__odooplaneLiveReload = "connecting";
    connect();
}
