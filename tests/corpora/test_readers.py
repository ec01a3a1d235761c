"""Corpus readers: every format, and clear errors naming file and line for bad input."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronviz.corpora.readers import (
    read_conll2000,
    read_conllu,
    read_parallel,
    read_pmb,
    read_ptb,
    read_text_lines,
)
from neuronviz.errors import DataError, NeuronvizError


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_conll2000_reads_words_and_columns(tmp_path):
    path = write(tmp_path, "c.txt", "The DT B-NP\ncat NN I-NP\n\n# # O\nruns VBZ B-VP\n")
    corpus = read_conll2000(path)
    assert corpus.tokens == [["The", "cat"], ["#", "runs"]]  # '#' is a token, not a comment
    assert corpus.columns["pos"] == [["DT", "NN"], ["#", "VBZ"]]
    assert corpus.columns["chunk"][1] == ["O", "B-VP"]
    assert corpus.lines == [1, 4]
    assert corpus.n_words == 4


def test_conll2000_ragged_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "c.txt", "The DT B-NP\ncat NN\n")
    with pytest.raises(DataError, match=r"c\.txt:2: expected 3 columns"):
        read_conll2000(path)


def test_bom_and_windows_line_endings_are_accepted(tmp_path):
    path = write(
        tmp_path, "c.txt", b"\xef\xbb\xbfThe DT B-NP\r\ncat NN I-NP\r\n\r\ndog NN B-NP\r\n"
    )
    corpus = read_conll2000(path)
    assert corpus.tokens == [["The", "cat"], ["dog"]]
    assert corpus.columns["chunk"][0] == ["B-NP", "I-NP"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"The DT B-NP\ncaf\xe9 NN I-NP\n", r":2: is not valid UTF-8"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_unreadable_files_give_one_clear_error(tmp_path, content, message):
    path = write(tmp_path, "bad.txt", content)
    with pytest.raises(DataError, match=message):
        read_conll2000(path)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_conll2000(tmp_path)
    with pytest.raises(DataError, match="file not found"):
        read_conll2000(tmp_path / "nope.txt")


def test_pmb_skips_comments_and_keeps_seven_columns(tmp_path):
    text = (
        "### header\n# newdoc id = p00/d0001\n# tok:gold\ttok:gold\tsym\tsem\tcat\tsns\trol\n"
        "# raw sent = Tom sleeps\n"
        "Tom\tTom\ttom\tPER\tn\tmale.n.02\t[]\nsleeps\tsleeps\tsleep\tENS\ts:dcl\\np\tsleep.v.01\t[Agent]\n"
    )
    corpus = read_pmb(write(tmp_path, "p.conll", text))
    assert corpus.tokens == [["Tom", "sleeps"]]
    assert corpus.columns["sem"] == [["PER", "ENS"]]
    assert corpus.columns["ccg"] == [["n", "s:dcl\\np"]]
    assert corpus.lines == [5]


def test_pmb_wrong_column_count(tmp_path):
    path = write(tmp_path, "p.conll", "# c\nTom\tTom\ttom\tPER\tn\n")
    with pytest.raises(DataError, match=r"p\.conll:2: expected 7 columns"):
        read_pmb(path)


def test_pmb_token_of_only_whitespace_is_an_error(tmp_path):
    path = write(tmp_path, "p.conll", " \tTom\ttom\tPER\tn\tO\t[]\n")
    with pytest.raises(DataError, match=r":1: the word column is empty"):
        read_pmb(path)


CONLLU = """# sent_id = 1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\tVMM\tMood=Imp\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\tPP\tCase=Acc\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\tSP\t_\t5\tcase\t_\t_
4\tel\tel\tDET\tDA\tDefinite=Def\t5\tdet\t_\t_
4.1\tvan\tir\tVERB\t_\t_\t_\t_\t0:root\t_
5\tmar\tmar\tNOUN\tNC\tGender=Masc\t1\tobl\t_\t_
6\t.\t.\tPUNCT\tFp\t_\t1\tpunct\t_\t_
"""


def test_conllu_skips_multiword_ranges_and_empty_nodes(tmp_path):
    corpus = read_conllu(write(tmp_path, "u.conllu", CONLLU))
    assert corpus.tokens == [["Vamos", "nos", "a", "el", "mar", "."]]
    assert corpus.columns["upos"] == [["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"]]
    assert corpus.columns["deprel"][0][0] == "root"
    assert corpus.columns["feats"][0][1] == "Case=Acc"
    assert corpus.columns["xpos"][0][-1] == "Fp"


def test_ptb_drops_traces_and_reads_tags(tmp_path):
    text = "( (S (NP-SBJ (-NONE- *-1)) (NP (DT The) (NN cat))\n  (VP (VBD sat)) (. .)) )\n( (S (NN Yes)) )\n"
    corpus = read_ptb(write(tmp_path, "w.mrg", text))
    assert corpus.tokens == [["The", "cat", "sat", "."], ["Yes"]]
    assert corpus.columns["pos"] == [["DT", "NN", "VBD", "."], ["NN"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("( (S (NN a)) ))\n", "unbalanced"),
        ("( (S (NN a)\n", "not closed"),
        ("word ( (S (NN a)) )", "outside"),
    ],
)
def test_ptb_malformed_trees(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_ptb(write(tmp_path, "w.mrg", text))


def test_parallel_files(tmp_path):
    s = write(tmp_path, "s.txt", "The cat sat\nA dog\n")
    lab = write(tmp_path, "l.txt", "DT NN VBD\nDT NN\n")
    corpus = read_parallel(s, lab)
    assert corpus.tokens == [["The", "cat", "sat"], ["A", "dog"]]
    assert corpus.columns["label"] == [["DT", "NN", "VBD"], ["DT", "NN"]]


def test_parallel_mismatched_counts(tmp_path):
    s = write(tmp_path, "s.txt", "The cat sat\nA dog\n")
    with pytest.raises(DataError, match=r"has 2 sentences but .* has 1 label lines"):
        read_parallel(s, write(tmp_path, "l.txt", "DT NN VBD\n"))
    with pytest.raises(
        DataError, match=r"s\.txt:2: sentence has 2 tokens but its label line has 3"
    ):
        read_parallel(s, write(tmp_path, "l2.txt", "DT NN VBD\nDT NN NN\n"))


def test_one_megabyte_single_line(tmp_path):
    word = "x" * (1 << 20)
    corpus = read_parallel(write(tmp_path, "s.txt", word + "\n"), write(tmp_path, "l.txt", "NN\n"))
    assert corpus.tokens == [[word]]


def test_read_text_lines_keeps_unicode_separators_inside_lines(tmp_path):
    path = write(tmp_path, "t.txt", "a\u2028b c\n")
    assert read_text_lines(path)[0] == "a\u2028b c"


# ---------------------------------------------------------------- properties

token = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + "éü",
    min_size=1,
    max_size=8,
)
label = st.text(alphabet=string.ascii_uppercase + "-$", min_size=1, max_size=5)
sentence = st.lists(st.tuples(token, label, label), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(sentence, min_size=1, max_size=5))
def test_conll2000_round_trip(tmp_path_factory, sents):
    path = tmp_path_factory.mktemp("rt") / "c.txt"
    path.write_text(
        "\n\n".join("\n".join(" ".join(t) for t in s) for s in sents) + "\n", encoding="utf-8"
    )
    corpus = read_conll2000(path)
    assert corpus.tokens == [[w for w, _, _ in s] for s in sents]
    assert corpus.columns["pos"] == [[p for _, p, _ in s] for s in sents]
    assert corpus.columns["chunk"] == [[c for _, _, c in s] for s in sents]


@settings(max_examples=60, deadline=None)
@given(st.lists(sentence, min_size=1, max_size=5))
def test_parallel_round_trip(tmp_path_factory, sents):
    folder = tmp_path_factory.mktemp("rt")
    (folder / "s.txt").write_text("\n".join(" ".join(w for w, _, _ in s) for s in sents) + "\n")
    (folder / "l.txt").write_text("\n".join(" ".join(p for _, p, _ in s) for s in sents) + "\n")
    corpus = read_parallel(folder / "s.txt", folder / "l.txt")
    assert corpus.tokens == [[w for w, _, _ in s] for s in sents]
    assert corpus.columns["label"] == [[p for _, p, _ in s] for s in sents]


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_a_foreign_exception(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fz") / "c.txt"
    path.write_bytes(raw)
    for reader in (read_conll2000, read_pmb, read_conllu, read_ptb):
        with contextlib.suppress(NeuronvizError):
            reader(path)
