//! Server-rendered pages: escaping, the page frame and the style sheet.
//!
//! Every value that comes from a user or the store goes through [`esc`]
//! (text and double-quoted attributes) or [`path_segment`] (URLs). The pages
//! carry no script at all, so the CSP can forbid it.

use std::fmt::Write as _;

/// Escapes text for HTML content and double-quoted attribute values.
pub(crate) use pin_activation::notify::escape_html as esc;

/// Percent-encodes one URL path segment (user ids may hold any printable
/// ASCII, `/` and `?` included).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(token))
}

/// A one-off message shown at the top of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Ok,
    Warn,
    Error,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "note ok",
            Tone::Warn => "note warn",
            Tone::Error => "note error",
        }
    }
}

pub(crate) fn note(tone: Tone, text: &str) -> String {
    format!(r#"<p class="{}" role="status">{}</p>"#, tone.class(), esc(text))
}

/// Which navigation a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Signed out: sign in, request a code, the demo outbox.
    Public,
    /// A signed-in tenant.
    Member,
    /// Staff, with the tab that is open.
    Staff(StaffTab),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaffTab {
    Users,
    Create,
    Outbox,
    None,
}

/// The frame around every page. `title` and `body` are already HTML;
/// `title` is escaped here.
pub(crate) fn page(title: &str, nav: Nav, csrf: &str, body: &str) -> String {
    let tab = |href: &str, label: &str, on: bool| {
        format!(
            r#"<a href="{href}"{}>{label}</a>"#,
            if on { r#" class="on" aria-current="page""# } else { "" }
        )
    };
    let sign_out = format!(
        r#"<form method="post" action="/signout" class="inline">{}<button type="submit" class="link">Sign out</button></form>"#,
        csrf_field(csrf)
    );
    let links = match nav {
        Nav::Public => format!(
            "{}{}{}",
            tab("/signin", "Sign in", false),
            tab("/request-pin", "Send me a new code", false),
            tab("/outbox", "Outbox (demo)", false)
        ),
        Nav::Member => format!("{}{}", tab("/account", "My account", false), sign_out),
        Nav::Staff(t) => format!(
            "{}{}{}{}",
            tab("/users", "Users", t == StaffTab::Users),
            tab("/users/new", "Create user", t == StaffTab::Create),
            tab("/outbox", "Outbox (demo)", t == StaffTab::Outbox),
            sign_out
        ),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Lakeside Self Storage</title>
<link rel="stylesheet" href="/portal.css">
</head>
<body>
<header><span class="brand">Lakeside Self Storage</span><nav>{links}</nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    )
}

/// The style sheet, served from `/portal.css` (the CSP allows styles from
/// the portal itself only, no inline ones).
pub(crate) const CSS: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; background: #f4f6f9; }
header { display: flex; align-items: center; gap: 2rem; padding: .75rem 1.5rem; background: #1f3a5f; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav { display: flex; gap: 1.25rem; align-items: center; }
header nav a, header nav button.link { color: #dce6f2; text-decoration: none; font: inherit; }
header nav a.on { color: #fff; border-bottom: 2px solid #ffd166; }
main { max-width: 68rem; margin: 1.5rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
form.inline { display: inline; margin: 0; }
form.card, section.card { background: #fff; border: 1px solid #d5dbe3; border-radius: 8px; padding: 1.25rem; max-width: 34rem; }
section.card { max-width: none; margin-bottom: 1rem; }
.card > p:first-of-type, .card > h2:first-child { margin-top: 0; }
label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
input[type=text], input[type=email], input[type=tel], input[type=password], input[type=search], select {
  width: 100%; padding: .5rem .6rem; font: inherit; border: 1px solid #9aa7b8; border-radius: 5px; background: #fff; }
button, a.button { display: inline-block; margin-top: 1rem; padding: .5rem 1rem; font: inherit; color: #fff; background: #1f6feb;
  border: 0; border-radius: 5px; cursor: pointer; text-decoration: none; }
button:disabled { background: #c3c9d2; color: #6b7480; cursor: not-allowed; }
button.link { background: none; padding: 0; margin: 0; color: #1f6feb; }
button.secondary { background: #5b6675; }
.hint { color: #5b6675; font-size: .9rem; }
.note { padding: .6rem .9rem; border-radius: 6px; border: 1px solid; max-width: 48rem; }
.note.ok { background: #e6f4ea; border-color: #8fc79f; }
.note.warn { background: #fff5da; border-color: #e3c26b; }
.note.error { background: #fdecec; border-color: #e59a9a; }
.demo { background: #fff1c2; border: 2px dashed #c99a00; padding: .75rem 1rem; border-radius: 6px; }
.search { display: flex; gap: .5rem; max-width: 34rem; margin-bottom: 1rem; }
.search input { flex: 1; }
.search button { margin: 0; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d5dbe3; }
th, td { text-align: left; padding: .55rem .75rem; border-bottom: 1px solid #e4e8ee; vertical-align: middle; }
th { background: #eef2f7; font-size: .9rem; text-transform: uppercase; letter-spacing: .04em; color: #465263; }
tbody tr { position: relative; }
tbody tr:hover { background: #f2f7ff; }
a.row { color: inherit; font-weight: 600; text-decoration: none; }
a.row::after { content: ""; position: absolute; inset: 0; }
/* No z-index on the cell: the open menu (z-index 2) must stack above the rows below it. */
td.menu { position: relative; width: 4rem; }
details.menu summary { list-style: none; cursor: pointer; padding: .1rem .6rem; border: 1px solid #c3cbd6; border-radius: 5px; background: #fff; width: max-content; }
details.menu summary::-webkit-details-marker { display: none; }
details.menu[open] .items { position: absolute; right: .75rem; min-width: 15rem; background: #fff; border: 1px solid #c3cbd6;
  border-radius: 6px; box-shadow: 0 6px 18px rgba(0,0,0,.12); padding: .4rem; z-index: 2; }
details.menu .items button, details.menu .items a { display: block; width: 100%; margin: 0; padding: .45rem .6rem; text-align: left;
  background: none; color: #1d2430; border-radius: 4px; text-decoration: none; }
details.menu .items button:hover:enabled, details.menu .items a:hover { background: #eef2f7; }
details.menu .items button:disabled { color: #9aa3ae; background: none; }
details.menu .items small { display: block; padding: 0 .6rem .35rem; color: #7a8594; font-size: .8rem; max-width: 15rem; }
.state { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem; font-weight: 600; }
.state.pending { background: #fff0c7; color: #7a5a00; }
.state.active { background: #dff3e4; color: #1e6b35; }
.state.reset_required { background: #e8e4fb; color: #4b3a9a; }
dl.facts { display: grid; grid-template-columns: 10rem 1fr; gap: .35rem 1rem; background: #fff; border: 1px solid #d5dbe3; border-radius: 8px; padding: 1rem 1.25rem; max-width: 40rem; }
dl.facts dt { font-weight: 600; color: #465263; }
dl.facts dd { margin: 0; }
a.gear { display: inline-block; margin-top: 1rem; padding: .45rem .9rem; border: 1px solid #9aa7b8; border-radius: 5px; background: #fff; color: #1d2430; text-decoration: none; }
pre.message { white-space: pre-wrap; background: #fff; border: 1px solid #d5dbe3; border-radius: 6px; padding: .75rem 1rem; font: 14px/1.45 ui-monospace, Menlo, Consolas, monospace; }
.muted { color: #7a8594; }
"#;
