//! What [`compare`](crate::compare) computes from a file's text, kept per thread for the last
//! few texts: a session compares every save with the running build's source, which stays the
//! same from one build to the next, so its tokens, its tweaks and the uses of its consts are
//! computed once per build rather than once per save (on a 20k-line file: ≈ 250 ms of parsing).

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::str::FromStr;

use proc_macro2::TokenStream;

use crate::compare::{FileTweaks, Token, analyze_uncached, flatten, mentions_in};

/// How many texts are kept: the built sources of a worker's files, and the last saves.
const KEPT: usize = 16;

/// Where a text names a name: (line, column) of each mention.
type Mentions = Rc<Vec<(usize, usize)>>;

/// One text, and what has been computed from it so far.
pub(crate) struct Memo {
    text: Rc<str>,
    tokens: OnceCell<Option<Rc<Vec<Token>>>>,
    tweaks: OnceCell<Option<Rc<FileTweaks>>>,
    mentions: RefCell<BTreeMap<String, Mentions>>,
}

thread_local! {
    static MEMOS: RefCell<VecDeque<Rc<Memo>>> = const { RefCell::new(VecDeque::new()) };
    /// Bytes of source tokenized on this thread since [`reclaim`] last let go of them: what
    /// proc-macro2 keeps of each text for its spans (its source map) until then.
    static READ: Cell<usize> = const { Cell::new(0) };
}

/// Lets go of the memos and of proc-macro2's map of the sources behind their spans, once more
/// than `limit` bytes were tokenized on this thread since the last time: the map only grows,
/// by the size of each text tokenized (a 20k-line file: 1 MB a save). Every span made on this
/// thread before is void after it; returns whether it let go.
pub(crate) fn reclaim(limit: usize) -> bool {
    if READ.get() <= limit {
        return false;
    }
    MEMOS.with(|memos| memos.borrow_mut().clear());
    proc_macro2::extra::invalidate_current_thread_spans();
    READ.set(0);
    true
}

/// Counts `text` as tokenized (see [`reclaim`]).
fn read(text: &str) {
    READ.set(READ.get().saturating_add(text.len()));
}

/// The memo of `text`, made (and the oldest dropped) if it is not kept.
pub(crate) fn of(text: &str) -> Rc<Memo> {
    MEMOS.with(|memos| {
        let mut memos = memos.borrow_mut();
        if let Some(at) = memos.iter().position(|m| *m.text == *text) {
            let memo = memos
                .remove(at)
                .unwrap_or_else(|| unreachable!("found above"));
            memos.push_back(memo.clone());
            return memo;
        }
        if memos.len() == KEPT {
            memos.pop_front();
        }
        let memo = Rc::new(Memo {
            text: text.into(),
            tokens: OnceCell::new(),
            tweaks: OnceCell::new(),
            mentions: RefCell::default(),
        });
        memos.push_back(memo.clone());
        memo
    })
}

impl Memo {
    /// The text's tokens, flattened; `None` when it does not tokenize.
    pub(crate) fn tokens(&self) -> Option<Rc<Vec<Token>>> {
        self.tokens
            .get_or_init(|| {
                read(&self.text);
                let stream = TokenStream::from_str(&self.text).ok()?;
                let mut tokens = Vec::new();
                flatten(stream, &mut tokens);
                Some(Rc::new(tokens))
            })
            .clone()
    }

    /// The text's tweaks; `None` when it does not parse.
    pub(crate) fn tweaks(&self) -> Option<Rc<FileTweaks>> {
        self.tweaks
            .get_or_init(|| {
                read(&self.text);
                analyze_uncached(&self.text).ok().map(Rc::new)
            })
            .clone()
    }

    /// Where the text names `name` (see [`crate::compare::mentions`]).
    pub(crate) fn mentions(&self, name: &str) -> Mentions {
        if let Some(found) = self.mentions.borrow().get(name) {
            return found.clone();
        }
        let found = Rc::new(
            self.tokens()
                .map(|tokens| mentions_in(&tokens, name))
                .unwrap_or_default(),
        );
        self.mentions
            .borrow_mut()
            .insert(name.to_owned(), found.clone());
        found
    }
}
