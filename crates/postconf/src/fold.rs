//! # NAME
//! fold — lay out `name = value` lines, folded or not
//!
//! ## SYNOPSIS
//! ```ignore
//! let line = fold::param_line(Some("mydestination"), value, fold);
//! let mut f = Folder::new("smtp       inet  ...  ", true);
//! f.word("smtpd"); f.break_line(); f.word("-o x=1");
//! let text = f.finish();
//! ```
//!
//! ## DESCRIPTION
//! A value is printed as its words, that is the runs of non-blank
//! characters, separated by one space: postconf(1) shows `a  {  b }` as
//! `a { b }`. With folding (`-f`), a word that would take a line past
//! [`LINE_LIMIT`] columns ([`ENTRY_LIMIT`] for master.cf entries) starts a
//! new line, indented by [`INDENT`]; a word longer than a line gets a line
//! of its own and is never split. The name and the `=` count as words:
//! after a name too long for the line, `= value` goes on the next.
//!
//! A [`Folder`] does the same for any sequence of words, and lets the
//! caller force a line break, as master.cf output does before and after
//! each `-o name=value`.
//!
//! ## SEE ALSO
//! postconf(1) "-f"

/// Folded `name = value` lines are at most this wide, unless one word is
/// wider.
pub const LINE_LIMIT: usize = 80;

/// Folded master.cf entries stay narrower than [`LINE_LIMIT`], as
/// `postconf -Mf` lays them out.
pub const ENTRY_LIMIT: usize = 79;

/// The indentation of continuation lines.
pub const INDENT: &str = "    ";

/// The words of a value, as postconf(1) separates them.
pub fn words(value: &str) -> impl Iterator<Item = &str> {
    value.split_ascii_whitespace()
}

/// Builds one logical output line out of words.
#[derive(Debug)]
pub struct Folder {
    out: String,
    /// Width of the current physical line.
    col: usize,
    fold: bool,
    limit: usize,
    /// Words are separated by a space only after this column (see
    /// [`Folder::space_after`]).
    space_after: usize,
    /// The next word starts a new line.
    pending_break: bool,
}

impl Folder {
    /// Starts a line with `head`, which is printed as it is.
    pub fn new(head: &str, fold: bool) -> Folder {
        Folder::with_limit(head, fold, LINE_LIMIT)
    }

    /// Like [`Folder::new`], with lines at most `limit` wide.
    pub fn with_limit(head: &str, fold: bool, limit: usize) -> Folder {
        Folder {
            out: head.to_string(),
            col: head.len(),
            fold,
            limit,
            space_after: 0,
            pending_break: false,
        }
    }

    /// Separates words only after column `col`. Postfix lays out a
    /// master.cf command line this way, taking column [`INDENT`] for the
    /// start of a continuation line: shown alone (`postconf -Fh`), a
    /// command of four letters or less is joined to the next word
    /// (`pipeflags=R`).
    pub fn space_after(mut self, col: usize) -> Folder {
        self.space_after = col;
        self
    }

    /// Appends a word: after a space, or on a new line when folding and
    /// the word does not fit.
    pub fn word(&mut self, w: &str) {
        if self.fold && (self.pending_break || self.col + 1 + w.len() > self.limit) {
            self.newline();
        } else if !self.out.is_empty() && self.col > self.space_after {
            self.out.push(' ');
            self.col += 1;
        }
        self.pending_break = false;
        self.out.push_str(w);
        self.col += w.len();
    }

    /// Like [`Folder::word`], always after a space (or a line break).
    pub fn spaced_word(&mut self, w: &str) {
        let keep = self.space_after;
        self.space_after = 0;
        self.word(w);
        self.space_after = keep;
    }

    /// Appends a word after a space, never folding before it.
    pub fn glue(&mut self, w: &str) {
        self.out.push(' ');
        self.out.push_str(w);
        self.col += 1 + w.len();
    }

    /// Starts an empty line with a word, never folding before it.
    pub fn glue_first(&mut self, w: &str) {
        self.out.push_str(w);
        self.col += w.len();
    }

    /// When folding, makes the next word start a new line.
    pub fn break_line(&mut self) {
        if self.fold {
            self.pending_break = true;
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.out.push_str(INDENT);
        self.col = INDENT.len();
    }

    /// The text, with a final newline.
    pub fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }
}

/// `name = value` (or the value alone), whitespace normalized, folded
/// when asked, with a final newline.
pub fn param_line(name: Option<&str>, value: &str, fold: bool) -> String {
    let mut f = match name {
        Some(n) => {
            let mut f = Folder::new(n, fold);
            f.word("=");
            f
        }
        None => Folder::new("", fold),
    };
    let mut first = true;
    for w in words(value) {
        if first && name.is_none() {
            // The value alone starts at the left margin.
            f.glue_first(w);
        } else {
            f.word(w);
        }
        first = false;
    }
    f.finish()
}

/// `name` alone, for `-H`.
pub fn name_line(name: &str) -> String {
    format!("{name}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_normalized() {
        assert_eq!(
            param_line(Some("a"), "x  {  b\t c }  {y}", false),
            "a = x { b c } {y}\n"
        );
        assert_eq!(param_line(Some("a"), "", false), "a =\n");
        assert_eq!(param_line(None, " tab\there ", false), "tab here\n");
        assert_eq!(param_line(None, "", true), "\n");
    }

    #[test]
    fn folding_at_eighty_columns() {
        let v = "PATH=/bin:/usr/bin:/usr/local/bin:/usr/X11R6/bin ddd \
                 $daemon_directory/$process_name $process_id & sleep 5";
        assert_eq!(
            param_line(Some("debugger_command"), v, true),
            "debugger_command = PATH=/bin:/usr/bin:/usr/local/bin:/usr/X11R6/bin ddd\n    \
             $daemon_directory/$process_name $process_id & sleep 5\n"
        );
        // A line of exactly 80 columns stays whole; 81 folds.
        let w = "x".repeat(80 - "n = ".len());
        assert_eq!(param_line(Some("n"), &w, true), format!("n = {w}\n"));
        let w = "x".repeat(81 - "n = ".len());
        assert_eq!(param_line(Some("n"), &w, true), format!("n =\n    {w}\n"));
        let n = "x".repeat(90);
        assert_eq!(param_line(Some(&n), "1", true), format!("{n}\n    = 1\n"));
        // Words longer than a line get lines of their own.
        let long = "a".repeat(100);
        assert_eq!(
            param_line(Some("n"), &format!("{long} {long} c"), true),
            format!("n =\n    {long}\n    {long}\n    c\n")
        );
    }

    #[test]
    fn short_first_words_join_when_asked() {
        let mut f = Folder::new("", false).space_after(INDENT.len());
        f.glue_first("pipe");
        f.word("flags=R");
        f.word("user=x");
        assert_eq!(f.finish(), "pipeflags=R user=x\n");
        let mut f = Folder::new("", false).space_after(INDENT.len());
        f.glue_first("smtp");
        f.spaced_word("-o");
        assert_eq!(f.finish(), "smtp -o\n");
    }

    #[test]
    fn forced_breaks() {
        let mut f = Folder::new(
            "relay      unix  -       -       n       -       -      ",
            true,
        );
        f.word("smtp");
        f.break_line();
        f.word("-o");
        f.glue("syslog_name=postfix/$service_name");
        f.break_line();
        f.word("foo");
        f.word("bar");
        assert_eq!(
            f.finish(),
            "relay      unix  -       -       n       -       -       smtp\n    \
             -o syslog_name=postfix/$service_name\n    foo bar\n"
        );
        let mut f = Folder::new("x", false);
        f.word("a");
        f.break_line();
        f.word("b");
        assert_eq!(f.finish(), "x a b\n");
    }
}
