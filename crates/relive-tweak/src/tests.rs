use super::*;

fn sites_of(source: &str) -> Vec<(String, usize, String)> {
    let mut item: Item = syn::parse_str(source).expect("parses");
    let mut out = Vec::new();
    bodies(&mut item, &mut |table, body, consts| {
        let sites = match body {
            Body::Fn(block) => walk_block(&table, block, consts, &mut Look),
            Body::Const(c) => walk_expr(&table, &mut c.expr, consts, &mut Look),
        };
        out.extend(sites.into_iter().map(|s| (s.table, s.index, s.text)));
    });
    out
}

#[test]
fn literals_are_numbered_per_body_in_source_order_with_their_minus() {
    let sites = sites_of(
        r#"impl Player {
            fn step(&mut self) { self.x += -1.5 * 2.0; self.name = "p"; }
            fn hit(&mut self) -> bool { self.hp -= 3u8; true }
            const fn fixed() -> u8 { 4 }
        }"#,
    );
    let want = [
        ("Player::step", 0, "-1.5"),
        ("Player::step", 1, "2.0"),
        ("Player::step", 2, "\"p\""),
        ("Player::hit", 0, "3u8"),
        ("Player::hit", 1, "true"),
    ];
    let got: Vec<(&str, usize, &str)> = sites
        .iter()
        .map(|(t, i, s)| (t.as_str(), *i, s.as_str()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn literals_where_a_runtime_value_cannot_go_are_left_alone() {
    let sites = sites_of(
        r#"fn f(x: u32) -> &'static [i32] {
            let a = [0u8; 16];
            let b: [f32; 4] = [1.0; 4];
            match x { 1 => {}, 2..=5 => {}, _ => {} }
            if let Some(7) = Some(x) {}
            let c = const { 3 };
            let d = format!("{}", 9);
            let e = x.pow(2) + foo::<10>();
            #[allow(unused)] const K: u32 = 11;
            fn inner() -> u32 { 12 }
            let _ = (a, b, c, d, e, K, inner());
            &[13, 14]
        }"#,
    );
    let texts: Vec<&str> = sites.iter().map(|(_, _, s)| s.as_str()).collect();
    // The repeated element, `format!`'s argument and `pow`'s argument are runtime values;
    // nothing else is.
    assert_eq!(texts, ["0u8", "1.0", "9", "2"]);
}

#[test]
fn a_marked_module_numbers_its_functions_impls_and_consts() {
    let sites = sites_of(
        "mod physics {
            const G: f32 = 9.8;
            fn fall(v: f32) -> f32 { v + G * 0.5 }
            impl Body { fn rest() -> f32 { 1.0 } }
        }",
    );
    let tables: Vec<(&str, usize)> = sites.iter().map(|(t, i, _)| (t.as_str(), *i)).collect();
    assert_eq!(
        tables,
        [
            ("physics::G", 0),
            ("physics::fall", 0),
            ("physics::Body::rest", 0)
        ]
    );
}

#[test]
fn a_const_read_by_name_is_handed_to_the_rewriter() {
    struct Names(Vec<String>);
    impl Found for Names {
        fn literal(&mut self, _: &mut Expr, _: &Site) {}
        fn const_use(&mut self, _: &mut Expr, name: &syn::Ident) {
            self.0.push(name.to_string());
        }
    }
    let mut block: Block = syn::parse_str(
        "{ let v = SPEED * dt; let w = self::SPEED; let SIZE2 = SIZE; draw(COLOR); }",
    )
    .unwrap();
    let consts: BTreeSet<String> = ["SPEED", "COLOR"].map(String::from).into();
    let mut names = Names(Vec::new());
    walk_block("update", &mut block, &consts, &mut names);
    assert_eq!(names.0, ["SPEED", "COLOR"]);
}

#[test]
fn the_arguments_of_formatting_macros_and_vec_are_walked_and_other_macros_are_not() {
    let sites = sites_of(
        r#"fn f(out: &mut String, x: f32) {
            println!("{:.1} {}", x * 100.0, 'c');
            write!(out, "{}", 2u8).ok();
            assert!(x < 3.0, "x was {}", 4);
            assert_eq!(x, 5.0);
            std::eprintln!("{y}", y = 6);
            let v = vec![7, 8];
            let w = vec![9.0; 10];
            my_macro!(11);
            mine::format!("{}", 12);
            panic!("{}", 13);
        }"#,
    );
    let texts: Vec<&str> = sites.iter().map(|(_, _, s)| s.as_str()).collect();
    // `vec![x; n]`'s count is left alone, as an array's length is.
    assert_eq!(
        texts,
        [
            "100.0", "'c'", "2u8", "3.0", "4", "5.0", "6", "7", "8", "9.0", "13"
        ]
    );
}

#[test]
fn a_const_in_a_format_macro_is_rewritten_as_an_argument_or_a_named_capture() {
    struct Names(Vec<String>);
    impl Found for Names {
        fn literal(&mut self, _: &mut Expr, _: &Site) {}
        fn const_use(&mut self, expr: &mut Expr, name: &syn::Ident) {
            self.0.push(name.to_string());
            *expr = syn::parse_quote!(slot(#name));
        }
    }
    let mut block: Block = syn::parse_str(
        r#"{ show(&format!("{} {SPEED} {SPEED:>4} {{SIZE}} {COLOR}", SPEED, COLOR = 1)); }"#,
    )
    .unwrap();
    let consts: BTreeSet<String> = ["SPEED", "SIZE", "COLOR"].map(String::from).into();
    let mut names = Names(Vec::new());
    walk_block("update", &mut block, &consts, &mut names);
    // The positional use, then one named argument for the capture; `{{SIZE}}` is text and
    // `COLOR` is already an argument of the user's.
    assert_eq!(names.0, ["SPEED", "SPEED"]);
    let text = block.to_token_stream().to_string().replace(' ', "");
    assert!(
        text.contains(
            r#"format!("{}{SPEED}{SPEED:>4}{{SIZE}}{COLOR}",slot(SPEED),COLOR=1,SPEED=slot(SPEED))"#
        ),
        "{text}"
    );
}

#[test]
fn format_captures_are_names_not_positions_or_escaped_braces() {
    assert_eq!(
        macros::format_captures("{} {0} {a} {{b}} {c:?} {_d:>8.2} {:w$}"),
        ["a", "c", "_d"]
    );
}

#[test]
fn values_are_written_back_in_the_style_of_the_literal_they_replace() {
    assert_eq!(Value::Float(450.0).as_literal_like("300.0", ""), "450.0");
    assert_eq!(
        Value::Float(0.25).as_literal_like("1.0f32", "f32"),
        "0.25f32"
    );
    assert_eq!(Value::Int(255).as_literal_like("0x10", ""), "0xff");
    assert_eq!(Value::Int(-3).as_literal_like("2", "i32"), "-3i32");
    assert_eq!(
        Value::Str("a \"b\"\n".into()).as_literal_like("\"x\"", ""),
        "\"a \\\"b\\\"\\n\""
    );
    assert_eq!(
        Value::Str("héllo".into()).as_literal_like("r\"x\"", ""),
        "r\"héllo\""
    );
    assert_eq!(Value::Char('\'').as_literal_like("'a'", ""), "'\\''");
}

#[test]
fn what_a_user_types_is_read_as_the_literal_s_kind_or_refused_saying_which() {
    assert_eq!(Value::parse(Kind::Float, "450"), Ok(Value::Float(450.0)));
    assert_eq!(Value::parse(Kind::Int, "1_000"), Ok(Value::Int(1000)));
    assert_eq!(
        Value::parse(Kind::Str, "Game over"),
        Ok(Value::Str("Game over".into()))
    );
    assert_eq!(
        Value::parse(Kind::Str, r#""a\tb""#),
        Ok(Value::Str("a\tb".into()))
    );
    assert_eq!(Value::parse(Kind::Char, "'x'"), Ok(Value::Char('x')));
    let refused = Value::parse(Kind::Int, "3.5").unwrap_err();
    assert_eq!(
        refused,
        "`3.5` is not an integer: the literal there is an integer"
    );
    assert!(Value::parse(Kind::Float, "inf").is_err());
}

#[cfg(feature = "locations")]
mod comparing {
    use crate::compare::{Outcome, compare};

    const BUILT: &str = r#"
use base::prelude::*;

#[relive_worker::tweak]
const SPEED: f32 = 300.0;
#[relive_worker::tweak]
const COLOR: Color = Color::new(0.2, 0.8, 0.4, 1.0);

impl Default for State {
    fn default() -> Self { State { x: 200.0, frames: 0 } }
}

#[relive_worker::tweak]
fn update(_: &mut (), state: &mut State) {
    state.x += SPEED * get_frame_time();
    draw_rectangle(state.x, 40.0, 60.0, 60.0, COLOR);
    draw_text("hello", 10.0, 20.0, 20.0, WHITE);
}

fn plain() -> u32 { 5 }

relive_worker::export! { state: State, context: (), update: update }
"#;

    fn tweaks(new: &str) -> Vec<(String, usize, String, String)> {
        match compare(BUILT, new) {
            Outcome::Tweaks(changes) => changes
                .into_iter()
                .map(|c| (c.site.table, c.site.index, c.old_text, c.site.text))
                .collect(),
            other => panic!("not tweaks: {other:?}"),
        }
    }

    #[test]
    fn only_tweakable_literals_changed_is_a_tweak_with_old_and_new() {
        assert_eq!(
            tweaks(&BUILT.replace("300.0", "450.0")),
            [("SPEED".into(), 0, "300.0".into(), "450.0".into())]
        );
        let two = BUILT
            .replace("\"hello\"", "\"hi there\"")
            .replace("0.8, 0.4", "0.1, 0.4");
        assert_eq!(
            tweaks(&two),
            [
                ("COLOR".into(), 1, "0.8".into(), "0.1".into()),
                (
                    "update".into(),
                    3,
                    "\"hello\"".into(),
                    "\"hi there\"".into()
                ),
            ]
        );
        // A comment and a blank line added elsewhere move lines, not keys.
        let moved = BUILT
            .replace("use base", "// tuned\n\nuse base")
            .replace("300.0", "310.0");
        assert_eq!(tweaks(&moved)[0].0, "SPEED");
        // A sign flipped, either way.
        assert_eq!(
            tweaks(&BUILT.replace("300.0", "-300.0")),
            [("SPEED".into(), 0, "300.0".into(), "-300.0".into())]
        );
        let negative = BUILT.replace("300.0", "-300.0");
        match compare(&negative, BUILT) {
            Outcome::Tweaks(changes) => {
                assert_eq!(changes[0].old_text, "-300.0");
                assert_eq!(changes[0].site.text, "300.0");
            }
            other => panic!("not tweaks: {other:?}"),
        }
    }

    #[test]
    fn a_literal_after_a_string_that_gains_a_line_is_placed_in_the_saved_file() {
        let built = "#[relive_worker::tweak]\nfn f() -> (String, u32) {\n    let s = \"a\";\n    (s.into(), 7)\n}\n";
        let line_of_seven = |new: &str| match compare(built, new) {
            Outcome::Tweaks(changes) => {
                let seven = changes.last().unwrap();
                assert_eq!(seven.site.text, "8");
                seven.site.literal_span.start().line
            }
            other => panic!("not tweaks: {other:?}"),
        };
        // Read from the built file's items (the same lines), and from the saved file parsed.
        assert_eq!(line_of_seven(&built.replace("7)", "8)")), 4);
        assert_eq!(
            line_of_seven(&built.replace("7)", "8)").replace("\"a\"", "\"a\nb\"")),
            5
        );
    }

    #[test]
    fn a_binary_minus_stays_code() {
        let built = BUILT.replace("state.x += SPEED", "state.x -= 1.0 - SPEED");
        let built = built.replace("40.0, 60.0", "40.0 - 2.0, 60.0");
        // Its literal is tweaked as itself; the operator changed is code.
        match compare(&built, &built.replace("40.0 - 2.0", "40.0 - 3.0")) {
            Outcome::Tweaks(changes) => assert_eq!(changes[0].site.text, "3.0"),
            other => panic!("not tweaks: {other:?}"),
        }
        assert!(matches!(
            compare(&built, &built.replace("40.0 - 2.0", "40.0 + 2.0")),
            Outcome::Build { .. }
        ));
        assert!(matches!(
            compare(&built, &built.replace("40.0 - 2.0", "40.0 - -2.0")),
            Outcome::Build { .. }
        ));
    }

    #[test]
    fn a_retyped_literal_is_found_from_the_bytes_and_what_could_join_its_neighbours_is_not() {
        let built = "#[relive_worker::tweak]\nfn f() -> u32 {\n    let s = \"h\u{e9}llo\";\n    let n = 1.max(2) + 30;\n    n\n}\n";
        let texts = |new: &str| match compare(built, new) {
            Outcome::Tweaks(changes) => changes
                .into_iter()
                .map(|c| (c.old_text, c.site.text))
                .collect::<Vec<_>>(),
            other => panic!("not tweaks: {other:?}"),
        };
        // A digit retyped, digits added and removed, a letter of a string that shares its
        // first byte (é → è), a string grown.
        assert_eq!(
            texts(&built.replace("30", "35")),
            [("30".into(), "35".into())]
        );
        assert_eq!(
            texts(&built.replace("30", "3000")),
            [("30".into(), "3000".into())]
        );
        assert_eq!(
            texts(&built.replace("30", "3")),
            [("30".into(), "3".into())]
        );
        assert_eq!(
            texts(&built.replace("h\u{e9}llo", "h\u{e8}llo")),
            [("\"h\u{e9}llo\"".into(), "\"h\u{e8}llo\"".into())]
        );
        assert_eq!(
            texts(&built.replace("llo\"", "llo there\"")),
            [("\"h\u{e9}llo\"".into(), "\"h\u{e9}llo there\"".into())]
        );
        // `1.` is a literal alone, but before `.max` the file reads `1..max`: code.
        let why = |new: String| match compare(built, &new) {
            Outcome::Build { why, .. } => why,
            other => panic!("not a build: {other:?}"),
        };
        assert_eq!(why(built.replace("1.max", "1..max")), "code changed");
        // A literal grown into an expression, a string split in two: code.
        assert_eq!(why(built.replace("30", "30 + n")), "code changed");
        assert_eq!(why(built.replace("llo\"", "l\" + \"lo\"")), "code changed");
        // Identical text, and a change in whitespace only.
        assert!(matches!(compare(built, built), Outcome::Same));
        assert!(matches!(
            compare(built, &built.replace("+ 30", "+  30")),
            Outcome::Same
        ));
    }

    #[test]
    fn what_the_reads_kept_is_let_go_past_the_limit_and_compares_go_on_after() {
        let new = BUILT.replace("300.0", "450.0");
        assert_eq!(tweaks(&new).len(), 1);
        assert!(!crate::compare::reclaim(usize::MAX));
        assert!(crate::compare::reclaim(0));
        // Nothing read since.
        assert!(!crate::compare::reclaim(0));
        // Read again from scratch, with spans of their own.
        assert_eq!(
            tweaks(&new),
            [("SPEED".into(), 0, "300.0".into(), "450.0".into())]
        );
        assert!(crate::compare::reclaim(0));
    }

    #[test]
    fn everything_else_builds_and_says_why() {
        let why = |new: String| match compare(BUILT, &new) {
            Outcome::Build { why, .. } => why,
            other => panic!("not a build: {other:?}"),
        };
        assert_eq!(
            why(BUILT.replace("{ 5 }", "{ 6 }")),
            "`6` at line 20 is not in a #[relive_worker::tweak] item"
        );
        assert_eq!(
            why(BUILT.replace("300.0", "300")),
            "a tweakable literal changed its kind or type suffix"
        );
        assert_eq!(
            why(BUILT.replace("state.x +=", "state.x -=")),
            "code changed"
        );
        assert_eq!(
            why(BUILT
                .replace("300.0", "450.0")
                .replace("{ 5 }", "{ 5 + 1 }")),
            "code changed"
        );
        assert!(matches!(
            compare(BUILT, &BUILT.replace("fn plain", "// c\nfn plain")),
            Outcome::Same
        ));
        let used = format!("{BUILT}\nfn other() -> f32 {{ SPEED }}\n").replace("300.0", "1.0");
        let built_used = format!("{BUILT}\nfn other() -> f32 {{ SPEED }}\n");
        match compare(&built_used, &used) {
            Outcome::Build { why, .. } => {
                assert!(why.starts_with("`SPEED` is also used outside"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_const_read_in_a_marked_format_macro_is_still_a_tweak_and_elsewhere_a_build() {
        let shown = BUILT.replace(
            "WHITE);\n}",
            "WHITE);\n    println!(\"{} {SPEED:.0}\", SPEED);\n}",
        );
        assert_ne!(shown, BUILT);
        assert_eq!(
            match compare(&shown, &shown.replace("300.0", "450.0")) {
                Outcome::Tweaks(changes) => changes.len(),
                other => panic!("{other:?}"),
            },
            1
        );
        let outside = format!("{BUILT}\nfn other() {{ println!(\"{{SPEED}}\"); }}\n");
        match compare(&outside, &outside.replace("300.0", "1.0")) {
            Outcome::Build { why, .. } => {
                assert!(why.starts_with("`SPEED` is also used outside"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_changed_default_names_the_state_field_it_would_set() {
        match compare(BUILT, &BUILT.replace("x: 200.0", "x: 250.0")) {
            Outcome::Build { defaults, .. } => {
                assert_eq!(defaults.len(), 1);
                assert_eq!(defaults[0].ty, "State");
                assert_eq!(defaults[0].pointer.as_deref(), Some("/x"));
                assert_eq!(
                    (defaults[0].old_text.as_str(), defaults[0].new_text.as_str()),
                    ("200.0", "250.0")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_file_s_tweakable_consts_are_read_from_its_tokens() {
    let consts = tweak_consts_in(
        "#[relive_worker::tweak]\npub(crate) const SPEED: f32 = 1.0;\n#[tweak] #[allow(x)] const SIZE: f32 = 2.0;\nconst PLAIN: u8 = 3;\n#[relive_worker::tweak] fn f() { const INNER: u8 = 4; }\n#[doc = \"tweak\"] const DOC: u8 = 5;",
    );
    assert_eq!(consts, ["SIZE", "SPEED"].map(String::from).into());
}
