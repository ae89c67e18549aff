use super::{DICT, DICT_TOTAL, FILLER, MAX_WORD_CHARS, frequency, full_segmenter, segmenter_for};
use std::sync::LazyLock;

static FULL: LazyLock<jieba_rs::Jieba> = LazyLock::new(full_segmenter);

fn cut<'a>(jieba: &jieba_rs::Jieba, text: &'a str) -> Vec<&'a str> {
    jieba
        .cut_for_search(text, true)
        .into_iter()
        .map(|t| t.word)
        .collect()
}

#[test]
fn the_dictionary_is_sorted_unique_and_its_constants_hold() {
    let mut previous: Option<&str> = None;
    let (mut total, mut longest, mut words) = (0usize, 0usize, 0usize);
    for line in DICT.lines() {
        let (word, freq) = line.split_once(' ').expect("`word freq` lines");
        assert!(!word.is_empty() && !word.contains(' '), "{line:?}");
        total += freq.parse::<usize>().expect("a numeric frequency");
        longest = longest.max(word.chars().count());
        if let Some(previous) = previous {
            assert!(
                previous.as_bytes() < word.as_bytes(),
                "{previous:?} then {word:?}"
            );
        }
        previous = Some(word);
        words += 1;
    }
    assert_eq!(words, 349_045);
    assert_eq!(total, DICT_TOTAL);
    assert_eq!(longest, MAX_WORD_CHARS);
    assert!(DICT.ends_with('\n'));
    assert_eq!(frequency(FILLER), None);
}

#[test]
fn frequency_finds_every_kind_of_entry_and_nothing_else() {
    // The first and last lines, words with ASCII in them, and ordinary words.
    let first = DICT.lines().next().unwrap().split_once(' ').unwrap();
    let last = DICT.lines().last().unwrap().split_once(' ').unwrap();
    for (word, freq) in [first, last] {
        assert_eq!(frequency(word), Some(freq.parse().unwrap()), "{word}");
    }
    for word in [
        "订单",
        "超时",
        "重试",
        "中华人民共和国",
        "C++",
        "AT&T",
        "清华大学",
    ] {
        assert!(frequency(word).is_some_and(|f| f > 0), "{word}");
    }
    // A word's prefix, an extension, an empty string and text beyond either end.
    for word in [
        "",
        "中华人民共和",
        "订单订单订单",
        "\u{1}",
        "\u{10ffff}",
        "C+",
        "zzzz",
    ] {
        assert_eq!(frequency(word), None, "{word:?}");
    }
    // Every 997th line is found where it is.
    for line in DICT.lines().step_by(997) {
        let (word, freq) = line.split_once(' ').unwrap();
        assert_eq!(frequency(word), Some(freq.parse().unwrap()), "{word}");
    }
}

#[test]
fn a_segmenter_for_a_text_cuts_it_as_the_full_dictionary_does() {
    let texts = [
        "订单超时重试",
        "我们在清华大学计算机系讨论中华人民共和国成立",
        "支付网关超时后重试三次并记录日志",
        "数据库连接池耗尽导致服务不可用",
        "他来到了网易杭研大厦",
        "小明硕士毕业于中国科学院计算所后在日本京都大学深造",
        "结婚的和尚未结婚的",
        "乒乓球拍卖完了",
        "的",
        "",
    ];
    for text in texts {
        assert_eq!(cut(&segmenter_for(text), text), cut(&FULL, text), "{text}");
    }
}

#[test]
fn a_text_holding_the_filler_gets_the_full_dictionary() {
    let text = format!("订单{FILLER}超时");
    assert_eq!(cut(&segmenter_for(&text), &text), cut(&FULL, &text));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Runs built from dictionary words and stray characters cut the same both ways: the
    /// total frequency, not just the words, has to match for the routes to agree.
    #[test]
    fn small_and_full_segmenters_agree(
        picks in proptest::collection::vec((0usize..349_045, proptest::option::of(0x4e00u32..0x9fa5)), 1..12),
    ) {
        let words: Vec<&str> = DICT.lines().map(|l| l.split_once(' ').unwrap().0).collect();
        let mut text = String::new();
        for (word, stray) in picks {
            text.push_str(words[word]);
            if let Some(c) = stray.and_then(char::from_u32) {
                text.push(c);
            }
        }
        proptest::prop_assert_eq!(cut(&segmenter_for(&text), &text), cut(&FULL, &text));
    }
}
