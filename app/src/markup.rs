//! Message markup: turns the text a person typed into a small tree of blocks
//! and inlines (bold, italic, code, fenced code, auto-links) that the UI builds
//! DOM nodes from, plus `@nick` mention detection and a plain-text flattening
//! for notifications.
//!
//! It is hand-written on purpose. Chat needs only a tiny, forgiving subset of
//! Markdown; a full Markdown crate would add its weight to the WebAssembly
//! bundle every visitor downloads, and it would let raw HTML through, which we
//! would then have to sanitize. Here nothing is ever HTML: `<script>` is just
//! text, links are only made from `http://`/`https://` URLs, and the UI renders
//! the tree as DOM nodes, never as an HTML string.
//!
//! Emphasis follows the CommonMark delimiter-run algorithm (simplified
//! flanking rules, no raw HTML, no link syntax), which keeps parsing linear:
//! a message made of thousands of `*` cannot make it backtrack.

/// A top-level piece of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Ordinary text; newlines inside stay as '\n' in Text nodes (the UI uses
    /// `white-space: pre-wrap`).
    Paragraph(Vec<Inline>),
    /// A fenced code block: a line starting with ``` opens it (anything after
    /// the backticks on that line is the language tag, may be empty), a line
    /// that is exactly ``` (trimmed) closes it; an unclosed fence runs to the
    /// end of the message. `code` is the literal text between, without the
    /// fence lines and without the final newline. A one-line "```x```" is not
    /// a fence but an inline code span.
    CodeBlock { lang: String, code: String },
}

/// A run of text inside a paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    /// `**like this**`
    Bold(Vec<Inline>),
    /// `_like this_` or `*like this*`
    Italic(Vec<Inline>),
    /// `` `like this` ``: literal, nothing parsed inside.
    Code(String),
    /// An auto-linked `http(s)://` URL; the UI shows `href` as the link text.
    Link {
        href: String,
    },
}

/// Parses a message body into blocks. Never fails: anything that is not
/// markup stays text.
pub fn parse(body: &str) -> Vec<Block> {
    // Pasted text may carry CRLF; without this the '\r' would leak into code
    // blocks and defeat the "line is exactly ```" test.
    let normalized;
    let body = if body.contains('\r') {
        normalized = body.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        body
    };

    let mut blocks = Vec::new();
    let mut para_start = 0;
    // While inside a fence: its language tag and where its code starts.
    let mut fence: Option<(&str, usize)> = None;
    let mut line_start = 0;
    for line in body.split('\n') {
        let line_end = line_start + line.len();
        // The newline before this line borders the fence, so it belongs to
        // neither the paragraph nor the code.
        let before_line = line_start.saturating_sub(1);
        match fence {
            None if opens_fence(line) => {
                push_paragraph(&mut blocks, &body[para_start.min(before_line)..before_line]);
                let lang = line.trim_start_matches('`').trim();
                fence = Some((lang, line_end + 1));
            }
            Some((lang, code_start)) if line.trim() == "```" => {
                let code = body.get(code_start..before_line).unwrap_or("");
                blocks.push(Block::CodeBlock {
                    lang: lang.to_string(),
                    code: code.to_string(),
                });
                fence = None;
                para_start = line_end + 1;
            }
            _ => {}
        }
        line_start = line_end + 1;
    }
    match fence {
        Some((lang, code_start)) => {
            let code = body.get(code_start..).unwrap_or("");
            blocks.push(Block::CodeBlock {
                lang: lang.to_string(),
                code: code.strip_suffix('\n').unwrap_or(code).to_string(),
            });
        }
        None => push_paragraph(&mut blocks, body.get(para_start..).unwrap_or("")),
    }
    blocks
}

/// True when `body` mentions `@nick`: case-insensitive; the '@' is at the
/// start or after a char that is not alphanumeric/underscore, and the nick is
/// followed by end of text or a char that is not alphanumeric/underscore.
/// Nicks may contain spaces and any non-control Unicode (e.g. "Ana Lúcia").
pub fn mentions(body: &str, nick: &str) -> bool {
    if nick.trim().is_empty() {
        return false;
    }
    let mut prev: Option<char> = None;
    for (i, c) in body.char_indices() {
        if c == '@' && !prev.is_some_and(is_word_char) {
            let after_at = &body[i + 1..];
            if let Some(rest) = strip_prefix_ignore_case(after_at, nick)
                && !rest.chars().next().is_some_and(is_word_char)
            {
                return true;
            }
        }
        prev = Some(c);
    }
    false
}

/// Flattens the tree back to plain text without markers (for desktop
/// notification text): Bold/Italic lose their markers, Code keeps its content,
/// Link shows href, CodeBlock shows code; blocks joined by '\n'.
pub fn plain_text(blocks: &[Block]) -> String {
    let mut out = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Paragraph(inlines) => push_plain(&mut out, inlines),
            Block::CodeBlock { code, .. } => out.push_str(code),
        }
    }
    out
}

fn push_plain(out: &mut String, inlines: &[Inline]) {
    for inline in inlines {
        match inline {
            Inline::Text(text) | Inline::Code(text) | Inline::Link { href: text } => {
                out.push_str(text);
            }
            Inline::Bold(children) | Inline::Italic(children) => push_plain(out, children),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `s` without its first chars when they equal `prefix` ignoring case.
/// Compares char by char so that no lowercased copy of the body is needed and
/// byte offsets stay those of `s` even when case mapping changes lengths.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let mut chars = s.chars();
    for p in prefix.chars() {
        let c = chars.next()?;
        if !crate::case::same_letter(c, p) {
            return None;
        }
    }
    Some(chars.as_str())
}

/// Whether `line` opens a fence. A line like "```let x = 1;```" is the
/// common chat habit of one-line code; read as a fence it would hide its text
/// in the language tag and swallow the rest of the message, so it is left to
/// the inline code-span rule instead.
fn opens_fence(line: &str) -> bool {
    line.starts_with("```") && !line.trim_start_matches('`').contains("```")
}

fn push_paragraph(blocks: &mut Vec<Block>, text: &str) {
    if !text.trim().is_empty() {
        blocks.push(Block::Paragraph(parse_inlines(text)));
    }
}

// ---------------------------------------------------------------------------
// Inlines: a tokenizer finds code spans, links and `*`/`_` delimiter runs;
// emphasis is then resolved over the delimiter runs (CommonMark's "process
// emphasis" with an openers-bottom table, so each run is examined a bounded
// number of times), and finally the tree is built in one left-to-right pass.

/// Deeper emphasis is shown as literal markers: nobody nests that deep on
/// purpose, and every level costs stack in the recursive walks over the tree
/// (drop, comparisons, rendering), which is small in WebAssembly.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Emphasis {
    Bold,
    Italic,
}

struct Delimiter {
    ch: u8,
    len: usize,
    remaining: usize,
    can_open: bool,
    can_close: bool,
    /// Emphasis this run ends, innermost first (taken from its left side).
    closes: Vec<Emphasis>,
    /// Emphasis this run starts, innermost first (taken from its right side).
    opens: Vec<Emphasis>,
}

enum Token<'a> {
    Text(&'a str),
    Code(&'a str),
    Link(&'a str),
    Delim(Delimiter),
}

fn parse_inlines(text: &str) -> Vec<Inline> {
    let mut tokens = tokenize(text);
    resolve_emphasis(&mut tokens);
    build_tree(tokens)
}

fn tokenize(s: &str) -> Vec<Token<'_>> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    // Backtick run lengths known to have no closing run further on; without
    // this, many unmatched runs would each rescan the rest of the text.
    let mut unclosable: Vec<usize> = Vec::new();
    // Rough count of `*` and `_` runs waiting for a closer, so that a URL
    // ending in one of them gives it back when it probably closes emphasis
    // ("_see https://x.org_") but keeps it otherwise ("…#object.__init__").
    let mut pending = [0usize; 2];

    // Only ASCII bytes are matched below, and those never occur inside a
    // multi-byte UTF-8 sequence, so every slice boundary is a char boundary.
    while i < bytes.len() {
        match bytes[i] {
            b'`' => {
                let n = run_length(bytes, i);
                let after = i + n;
                if !unclosable.contains(&n) {
                    if let Some(close) = find_backtick_run(bytes, after, n) {
                        push_text_token(&mut tokens, &s[text_start..i]);
                        tokens.push(Token::Code(&s[after..close]));
                        i = close + n;
                        text_start = i;
                        continue;
                    }
                    unclosable.push(n);
                }
                i = after;
            }
            ch @ (b'*' | b'_') => {
                let n = run_length(bytes, i);
                let prev = s[..i].chars().next_back();
                let next = s[i + n..].chars().next();
                let mut can_open = next.is_some_and(|c| !c.is_whitespace());
                let mut can_close = prev.is_some_and(|c| !c.is_whitespace());
                if ch == b'_' {
                    // Only at word boundaries, so snake_case stays text.
                    can_open &= !prev.is_some_and(char::is_alphanumeric);
                    can_close &= !next.is_some_and(char::is_alphanumeric);
                }
                let count = &mut pending[usize::from(ch == b'_')];
                if can_close && *count > 0 {
                    *count -= 1;
                } else if can_open {
                    *count += 1;
                }
                push_text_token(&mut tokens, &s[text_start..i]);
                tokens.push(Token::Delim(Delimiter {
                    ch,
                    len: n,
                    remaining: n,
                    can_open,
                    can_close,
                    closes: Vec::new(),
                    opens: Vec::new(),
                }));
                i += n;
                text_start = i;
            }
            b'h' | b'H' => match link_end(s, i, pending) {
                Some(end) => {
                    push_text_token(&mut tokens, &s[text_start..i]);
                    tokens.push(Token::Link(&s[i..end]));
                    i = end;
                    text_start = i;
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    push_text_token(&mut tokens, &s[text_start..]);
    tokens
}

fn push_text_token<'a>(tokens: &mut Vec<Token<'a>>, text: &'a str) {
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
}

fn run_length(bytes: &[u8], start: usize) -> usize {
    let ch = bytes[start];
    bytes[start..].iter().take_while(|&&b| b == ch).count()
}

/// Start of the next run of exactly `n` backticks at or after `from`.
fn find_backtick_run(bytes: &[u8], from: usize, n: usize) -> Option<usize> {
    let mut j = from;
    while j < bytes.len() {
        if bytes[j] == b'`' {
            let m = run_length(bytes, j);
            if m == n {
                return Some(j);
            }
            j += m;
        } else {
            j += 1;
        }
    }
    None
}

/// End of the URL starting at `start`, if one starts there.
fn link_end(s: &str, start: usize, pending: [usize; 2]) -> Option<usize> {
    let bytes = s.as_bytes();
    let rest = &bytes[start..];
    let scheme_len = if starts_with_ignore_ascii_case(rest, b"https://") {
        8
    } else if starts_with_ignore_ascii_case(rest, b"http://") {
        7
    } else {
        return None;
    };
    // "xhttp://" is not a URL someone meant to share.
    if s[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    let body_start = start + scheme_len;
    // A backtick also ends it: it is not a URL character, and this way
    // "`https://x.org`"-like text next to code spans is not swallowed.
    let mut end = s[body_start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
        .map_or(s.len(), |off| body_start + off);

    // Sentence punctuation after a URL is far more common than a URL ending
    // in it; a ')' is kept only when it balances a '(' inside the URL.
    let url = &bytes[body_start..end];
    let opens = url.iter().filter(|&&b| b == b'(').count();
    let mut closes = url.iter().filter(|&&b| b == b')').count();
    while end > body_start {
        let strip = match bytes[end - 1] {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' => true,
            b')' if closes > opens => {
                closes -= 1;
                true
            }
            b'*' => pending[0] > 0,
            b'_' => pending[1] > 0,
            _ => false,
        };
        if !strip {
            break;
        }
        end -= 1;
    }
    (end > body_start).then_some(end)
}

fn starts_with_ignore_ascii_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn delimiter<'t>(tokens: &'t [Token], index: usize) -> Option<&'t Delimiter> {
    match tokens.get(index) {
        Some(Token::Delim(d)) => Some(d),
        _ => None,
    }
}

fn delimiter_mut<'t>(tokens: &'t mut [Token<'_>], index: usize) -> Option<&'t mut Delimiter> {
    match tokens.get_mut(index) {
        Some(Token::Delim(d)) => Some(d),
        _ => None,
    }
}

/// Pairs delimiter runs into emphasis, recording on each run what it opens
/// and closes. Matched pairs are properly nested because everything between
/// an opener and its closer is dropped from the openers stack.
fn resolve_emphasis(tokens: &mut [Token]) {
    // Indices of runs that may still open emphasis, in text order.
    let mut openers: Vec<usize> = Vec::new();
    // For each kind of closer (char, can also open, length % 3): openers at
    // stack positions below this are known not to match it, so failed
    // searches are never repeated over the same runs.
    let mut bottom = [[[0usize; 3]; 2]; 2];

    for index in 0..tokens.len() {
        let Some(closer) = delimiter(tokens, index) else {
            continue;
        };
        let (ch, len, closer_can_open) = (closer.ch, closer.len, closer.can_open);
        let char_key = usize::from(ch == b'_');
        let open_key = usize::from(closer_can_open);

        if closer.can_close {
            while let Some(closer) = delimiter(tokens, index) {
                let closer_remaining = closer.remaining;
                if closer_remaining == 0 {
                    break;
                }
                let lowest = bottom[char_key][open_key][len % 3].min(openers.len());
                let found = (lowest..openers.len()).rev().find(|&pos| {
                    delimiter(tokens, openers[pos]).is_some_and(|opener| {
                        // CommonMark's "rule of 3": keeps "*a**b*" from
                        // pairing the wrong runs.
                        let odd = (closer_can_open || opener.can_close)
                            && (opener.len + len) % 3 == 0
                            && !(opener.len % 3 == 0 && len % 3 == 0);
                        opener.ch == ch && opener.remaining > 0 && !odd
                    })
                });
                let Some(pos) = found else {
                    bottom[char_key][open_key][len % 3] = openers.len();
                    break;
                };
                let opener_index = openers[pos];
                let Some(opener) = delimiter_mut(tokens, opener_index) else {
                    break;
                };
                let (used, kind) = if opener.remaining >= 2 && closer_remaining >= 2 {
                    (2, Emphasis::Bold)
                } else {
                    (1, Emphasis::Italic)
                };
                opener.remaining -= used;
                opener.opens.push(kind);
                let opener_done = opener.remaining == 0;
                if let Some(closer) = delimiter_mut(tokens, index) {
                    closer.remaining -= used;
                    closer.closes.push(kind);
                }
                openers.truncate(if opener_done { pos } else { pos + 1 });
                for per_open in &mut bottom {
                    for per_len in per_open.iter_mut() {
                        for b in per_len.iter_mut() {
                            *b = (*b).min(openers.len());
                        }
                    }
                }
            }
        }
        if delimiter(tokens, index).is_some_and(|d| d.can_open && d.remaining > 0) {
            openers.push(index);
        }
    }
}

fn build_tree(tokens: Vec<Token>) -> Vec<Inline> {
    let mut root: Vec<Inline> = Vec::new();
    let mut frames: Vec<(Emphasis, Vec<Inline>)> = Vec::new();
    // Levels opened beyond MAX_DEPTH, shown as literal markers. Pairs are
    // properly nested, so these are always the innermost open levels.
    let mut literal_levels = 0usize;

    for token in tokens {
        match token {
            Token::Text(text) => push_text(current(&mut root, &mut frames), text),
            Token::Code(code) => {
                current(&mut root, &mut frames).push(Inline::Code(code.to_string()));
            }
            Token::Link(href) => current(&mut root, &mut frames).push(Inline::Link {
                href: href.to_string(),
            }),
            Token::Delim(d) => {
                let marker = |kind| {
                    let n = if kind == Emphasis::Bold { 2 } else { 1 };
                    char::from(d.ch).to_string().repeat(n)
                };
                for &kind in &d.closes {
                    if literal_levels > 0 {
                        literal_levels -= 1;
                        push_text(current(&mut root, &mut frames), &marker(kind));
                    } else if let Some((kind, children)) = frames.pop() {
                        current(&mut root, &mut frames).push(wrap(kind, children));
                    }
                }
                let literal = char::from(d.ch).to_string().repeat(d.remaining);
                push_text(current(&mut root, &mut frames), &literal);
                for &kind in d.opens.iter().rev() {
                    if frames.len() >= MAX_DEPTH || literal_levels > 0 {
                        literal_levels += 1;
                        push_text(current(&mut root, &mut frames), &marker(kind));
                    } else {
                        frames.push((kind, Vec::new()));
                    }
                }
            }
        }
    }
    // Every open has its close, so this only guards against a future bug
    // silently dropping text.
    while let Some((kind, children)) = frames.pop() {
        current(&mut root, &mut frames).push(wrap(kind, children));
    }
    root
}

fn current<'v>(
    root: &'v mut Vec<Inline>,
    frames: &'v mut [(Emphasis, Vec<Inline>)],
) -> &'v mut Vec<Inline> {
    match frames.last_mut() {
        Some((_, children)) => children,
        None => root,
    }
}

fn wrap(kind: Emphasis, children: Vec<Inline>) -> Inline {
    match kind {
        Emphasis::Bold => Inline::Bold(children),
        Emphasis::Italic => Inline::Italic(children),
    }
}

/// Appends text, merging with a preceding Text node and skipping empties.
fn push_text(inlines: &mut Vec<Inline>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Inline::Text(last)) = inlines.last_mut() {
        last.push_str(text);
    } else {
        inlines.push(Inline::Text(text.to_string()));
    }
}

/// What a run of inline text is, once emphasis is taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Code(String),
    Link(String),
}

/// A run of inline text with the emphasis around it. The UI draws a flat
/// list of these rather than the nested tree: a fixed set of element shapes
/// keeps the WebAssembly small (no type-erased views per nesting level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub piece: Piece,
    pub bold: bool,
    pub italic: bool,
}

/// Flattens a paragraph's inlines into spans, in reading order.
pub fn spans(inlines: &[Inline]) -> Vec<Span> {
    fn walk(inlines: &[Inline], bold: bool, italic: bool, out: &mut Vec<Span>) {
        for inline in inlines {
            let piece = match inline {
                Inline::Text(t) => Piece::Text(t.clone()),
                Inline::Code(c) => Piece::Code(c.clone()),
                Inline::Link { href } => Piece::Link(href.clone()),
                Inline::Bold(inner) => {
                    walk(inner, true, italic, out);
                    continue;
                }
                Inline::Italic(inner) => {
                    walk(inner, bold, true, out);
                    continue;
                }
            };
            out.push(Span {
                piece,
                bold,
                italic,
            });
        }
    }
    let mut out = Vec::new();
    walk(inlines, false, false, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Inline {
        Inline::Text(s.to_string())
    }

    fn link(s: &str) -> Inline {
        Inline::Link {
            href: s.to_string(),
        }
    }

    fn code(s: &str) -> Inline {
        Inline::Code(s.to_string())
    }

    fn para(inlines: Vec<Inline>) -> Vec<Block> {
        vec![Block::Paragraph(inlines)]
    }

    fn block(lang: &str, code: &str) -> Block {
        Block::CodeBlock {
            lang: lang.to_string(),
            code: code.to_string(),
        }
    }

    #[test]
    fn plain_text_is_one_text_node() {
        assert_eq!(parse("hello world"), para(vec![t("hello world")]));
        assert_eq!(parse(""), vec![]);
        assert_eq!(parse("  \n \n"), vec![]);
    }

    #[test]
    fn newlines_stay_inside_a_paragraph() {
        assert_eq!(parse("a\n\nb\n"), para(vec![t("a\n\nb\n")]));
        assert_eq!(parse("a\r\nb"), para(vec![t("a\nb")]));
    }

    #[test]
    fn bold() {
        assert_eq!(
            parse("a **bold** b"),
            para(vec![t("a "), Inline::Bold(vec![t("bold")]), t(" b")])
        );
        assert_eq!(
            parse("**a**b**c**"),
            para(vec![
                Inline::Bold(vec![t("a")]),
                t("b"),
                Inline::Bold(vec![t("c")])
            ])
        );
    }

    #[test]
    fn italic_with_both_markers() {
        assert_eq!(
            parse("_it_ and *it*"),
            para(vec![
                Inline::Italic(vec![t("it")]),
                t(" and "),
                Inline::Italic(vec![t("it")])
            ])
        );
    }

    #[test]
    fn nesting() {
        assert_eq!(
            parse("**bold _it_ more**"),
            para(vec![Inline::Bold(vec![
                t("bold "),
                Inline::Italic(vec![t("it")]),
                t(" more")
            ])])
        );
        assert_eq!(
            parse("*it **bold** x*"),
            para(vec![Inline::Italic(vec![
                t("it "),
                Inline::Bold(vec![t("bold")]),
                t(" x")
            ])])
        );
        assert_eq!(
            parse("***both***"),
            para(vec![Inline::Italic(vec![Inline::Bold(vec![t("both")])])])
        );
    }

    #[test]
    fn emphasis_needs_non_space_inside() {
        assert_eq!(parse("2 * 3 * 4"), para(vec![t("2 * 3 * 4")]));
        assert_eq!(parse("** a **"), para(vec![t("** a **")]));
        assert_eq!(parse("*a *b"), para(vec![t("*a *b")]));
    }

    #[test]
    fn unclosed_and_empty_markers_stay_literal() {
        assert_eq!(parse("**open"), para(vec![t("**open")]));
        assert_eq!(parse("_open"), para(vec![t("_open")]));
        assert_eq!(parse("****"), para(vec![t("****")]));
        assert_eq!(parse("a****b"), para(vec![t("a****b")]));
        assert_eq!(parse("*"), para(vec![t("*")]));
    }

    #[test]
    fn underscores_inside_words_stay_text() {
        assert_eq!(parse("snake_case_name"), para(vec![t("snake_case_name")]));
        assert_eq!(parse("a_b_c"), para(vec![t("a_b_c")]));
        assert_eq!(
            parse("use _snake_case_ here"),
            para(vec![
                t("use "),
                Inline::Italic(vec![t("snake_case")]),
                t(" here")
            ])
        );
    }

    #[test]
    fn code_span() {
        assert_eq!(
            parse("run `cargo **x** _y_ https://a.b` now"),
            para(vec![
                t("run "),
                code("cargo **x** _y_ https://a.b"),
                t(" now")
            ])
        );
        assert_eq!(parse("a ` b"), para(vec![t("a ` b")]));
        assert_eq!(parse("``a`b``"), para(vec![code("a`b")]));
        assert_eq!(parse("```x```"), para(vec![code("x")]));
    }

    #[test]
    fn emphasis_does_not_pair_with_markers_inside_code() {
        assert_eq!(
            parse("*a `b*` c"),
            para(vec![t("*a "), code("b*"), t(" c")])
        );
        assert_eq!(
            parse("**see `x`**"),
            para(vec![Inline::Bold(vec![t("see "), code("x")])])
        );
    }

    #[test]
    fn fenced_block_with_lang() {
        assert_eq!(
            parse("look:\n```rust\nfn main() {}\n  **x**\n```\nnice"),
            vec![
                Block::Paragraph(vec![t("look:")]),
                block("rust", "fn main() {}\n  **x**"),
                Block::Paragraph(vec![t("nice")]),
            ]
        );
    }

    #[test]
    fn fenced_block_without_lang() {
        assert_eq!(parse("```\na\n\nb\n```"), vec![block("", "a\n\nb")]);
        assert_eq!(parse("```\n```"), vec![block("", "")]);
    }

    #[test]
    fn unclosed_fence_runs_to_the_end() {
        assert_eq!(parse("x\n```py\nprint(1)\n"), {
            vec![Block::Paragraph(vec![t("x")]), block("py", "print(1)")]
        });
        assert_eq!(parse("```"), vec![block("", "")]);
    }

    #[test]
    fn blank_paragraphs_between_fences_are_dropped() {
        assert_eq!(
            parse("```\na\n```\n\n```\nb\n```"),
            vec![block("", "a"), block("", "b")]
        );
        assert_eq!(
            parse("a\n\n```\nb\n```"),
            vec![Block::Paragraph(vec![t("a\n")]), block("", "b")]
        );
    }

    #[test]
    fn links() {
        assert_eq!(
            parse("see https://example.com/a?b=1 ok"),
            para(vec![t("see "), link("https://example.com/a?b=1"), t(" ok")])
        );
        assert_eq!(parse("HTTP://X.ORG/"), para(vec![link("HTTP://X.ORG/")]));
        assert_eq!(parse("https://"), para(vec![t("https://")]));
        assert_eq!(parse("https:// x"), para(vec![t("https:// x")]));
    }

    #[test]
    fn link_trailing_punctuation() {
        assert_eq!(
            parse("go to https://x.org/a. Or https://x.org/b, https://x.org/c?!"),
            para(vec![
                t("go to "),
                link("https://x.org/a"),
                t(". Or "),
                link("https://x.org/b"),
                t(", "),
                link("https://x.org/c"),
                t("?!"),
            ])
        );
        assert_eq!(
            parse("<https://x.org/a>"),
            para(vec![t("<"), link("https://x.org/a"), t(">")])
        );
    }

    #[test]
    fn link_parentheses() {
        assert_eq!(
            parse("(see https://x.org/a)"),
            para(vec![t("(see "), link("https://x.org/a"), t(")")])
        );
        assert_eq!(
            parse("https://en.wikipedia.org/wiki/Rust_(language)"),
            para(vec![link("https://en.wikipedia.org/wiki/Rust_(language)")])
        );
        assert_eq!(
            parse("(https://en.wikipedia.org/wiki/Rust_(language))."),
            para(vec![
                t("("),
                link("https://en.wikipedia.org/wiki/Rust_(language)"),
                t(")."),
            ])
        );
    }

    #[test]
    fn link_markers_inside_and_around() {
        assert_eq!(
            parse("https://x.org/a_b_c*d*"),
            para(vec![link("https://x.org/a_b_c*d*")])
        );
        assert_eq!(
            parse("https://docs.python.org/3/x.html#object.__init__"),
            para(vec![link(
                "https://docs.python.org/3/x.html#object.__init__"
            )])
        );
        assert_eq!(
            parse("**https://x.org/a**"),
            para(vec![Inline::Bold(vec![link("https://x.org/a")])])
        );
        assert_eq!(
            parse("_see https://x.org/a_"),
            para(vec![Inline::Italic(vec![
                t("see "),
                link("https://x.org/a")
            ])])
        );
    }

    #[test]
    fn only_http_links() {
        assert_eq!(
            parse("javascript:alert(1)"),
            para(vec![t("javascript:alert(1)")])
        );
        assert_eq!(
            parse("ftp://x.org xhttps://y.org"),
            para(vec![t("ftp://x.org xhttps://y.org")])
        );
    }

    #[test]
    fn html_stays_text() {
        let body = "<script>alert('x')</script> <b>hi</b> <a href=\"javascript:x\">";
        assert_eq!(parse(body), para(vec![t(body)]));
    }

    #[test]
    fn deep_nesting_is_capped() {
        fn depth(inlines: &[Inline]) -> usize {
            inlines
                .iter()
                .map(|i| match i {
                    Inline::Bold(c) | Inline::Italic(c) => 1 + depth(c),
                    _ => 0,
                })
                .max()
                .unwrap_or(0)
        }
        let body = format!("{}x{}", "*a _a ".repeat(20), " a_ a*".repeat(20));
        let blocks = parse(&body);
        let Block::Paragraph(inlines) = &blocks[0] else {
            panic!("expected a paragraph");
        };
        assert_eq!(depth(inlines), MAX_DEPTH);
        // The levels beyond the cap keep their markers as text.
        let flat = plain_text(&blocks);
        assert_eq!(
            flat.matches('*').count() + flat.matches('_').count(),
            2 * (40 - MAX_DEPTH)
        );
        assert_eq!(flat.replace(['*', '_'], ""), body.replace(['*', '_'], ""));
    }

    #[test]
    fn mentions_cases() {
        assert!(mentions("@ana hi", "ana"));
        assert!(mentions("hi @Ana!", "ana"));
        assert!(mentions("hi @ANA", "Ana"));
        assert!(mentions("(@ana)", "ana"));
        assert!(mentions("ping @Ana Lúcia, please", "ana lúcia"));
        assert!(mentions("@ÉMILE", "émile"));
        assert!(mentions("x @bob y @ana", "ana"));
        assert!(!mentions("@ana", "an"));
        assert!(!mentions("@ana_b", "ana"));
        assert!(!mentions("mail ana@ana.org", "ana.org"));
        assert!(!mentions("x_@ana", "ana"));
        assert!(!mentions("ana", "ana"));
        assert!(!mentions("@", "ana"));
        assert!(!mentions("@ana", ""));
    }

    #[test]
    fn plain_text_drops_markers() {
        let blocks = parse("**Hi** _there_ `x*y` https://a.b/c.\n```sh\nls -l\n```\nbye *now*");
        assert_eq!(
            plain_text(&blocks),
            "Hi there x*y https://a.b/c.\nls -l\nbye now"
        );
    }

    /// Deterministic pseudo-random generator (Knuth's MMIX LCG).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % bound as u64) as usize
        }
    }

    fn assert_keeps_alphanumerics(body: &str) {
        let blocks = parse(body);
        let flat = plain_text(&blocks);
        let mut flat_chars = flat.chars();
        for c in body.chars().filter(|c| c.is_alphanumeric()) {
            assert!(
                flat_chars.any(|f| f == c),
                "lost {c:?} of {body:?}: got {flat:?}"
            );
        }
        let _ = format!("{blocks:?}");
        let _ = mentions(body, "a é");
        let _ = mentions(body, "@");
    }

    #[test]
    fn pathological_inputs_do_not_panic() {
        let long_runs = [
            "*".repeat(2000),
            "_".repeat(2000),
            "`".repeat(2000),
            "**a".repeat(2000),
            "*a".repeat(2000),
            "_a ".repeat(2000),
            " a_".repeat(2000),
            "`a``".repeat(1000),
            format!("{}x{}", "**".repeat(1000), "*".repeat(1001)),
            format!("{}x", "_a *".repeat(1000)),
            format!("{}{}", "_a ".repeat(1000), "b* ".repeat(1000)),
            "(".repeat(2000) + "https://x.org/" + &")".repeat(2000),
            "https://".repeat(1000),
            "@".repeat(2000),
            "```\n".repeat(1000),
            (1..60).map(|n| "`".repeat(n) + "a").collect(),
        ];
        for body in &long_runs {
            assert_keeps_alphanumerics(body);
        }

        // Line starts never get a stray backtick, except through a whole
        // "```" fence line: a fence line's language tag is not part of
        // plain_text, so random text there would break the check below.
        let pieces = [
            "*",
            "**",
            "_",
            "`",
            "``",
            "[",
            "]",
            "(",
            ")",
            "@",
            ":",
            "/",
            " ",
            "\n",
            "a",
            "Z",
            "7",
            "é",
            "日本",
            "🦀",
            "ß",
            "https://",
            "http://x.y/",
            "```\n",
            "<",
            ">",
            "\u{301}",
        ];
        let mut rng = Lcg(42);
        for _ in 0..3000 {
            let mut body = String::new();
            for _ in 0..rng.next(80) {
                let piece = pieces[rng.next(pieces.len())];
                let at_line_start = body.is_empty() || body.ends_with('\n');
                if piece.starts_with('`') && !at_line_start {
                    body.push_str(piece.trim_end_matches('\n'));
                } else if piece.starts_with('`') && piece != "```\n" {
                    body.push('x');
                    body.push_str(piece);
                } else {
                    body.push_str(piece);
                }
            }
            assert_keeps_alphanumerics(&body);
        }
    }

    #[test]
    fn large_inputs_stay_fast() {
        // Quadratic behaviour would make this test take minutes.
        let mut rng = Lcg(7);
        let pieces = ["*", "_", "`", "a", " ", "**", "https://a.b/", "(", ")"];
        let body: String = (0..100_000)
            .map(|_| pieces[rng.next(pieces.len())])
            .collect();
        assert_keeps_alphanumerics(&body);
        for body in [
            "*a ".repeat(50_000),
            "_a ".repeat(25_000) + &"b_ ".repeat(25_000),
            "**a".repeat(50_000),
            "_a ".repeat(25_000) + &"b* ".repeat(25_000),
            (1..400).map(|n| "`".repeat(n) + "a").collect(),
        ] {
            assert_keeps_alphanumerics(&body);
        }
    }

    #[test]
    fn spans_flatten_emphasis_in_reading_order() {
        let blocks = parse("a **b _c_ `d`** https://x.org");
        let Block::Paragraph(inlines) = &blocks[0] else {
            panic!("{blocks:?}");
        };
        let flat: Vec<(Piece, bool, bool)> = spans(inlines)
            .into_iter()
            .map(|s| (s.piece, s.bold, s.italic))
            .collect();
        assert_eq!(
            flat,
            [
                (Piece::Text("a ".into()), false, false),
                (Piece::Text("b ".into()), true, false),
                (Piece::Text("c".into()), true, true),
                (Piece::Text(" ".into()), true, false),
                (Piece::Code("d".into()), true, false),
                (Piece::Text(" ".into()), false, false),
                (Piece::Link("https://x.org".into()), false, false),
            ]
        );
    }
}
