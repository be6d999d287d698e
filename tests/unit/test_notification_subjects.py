"""SNS subjects the product builds are ones SNS accepts."""

import unicodedata

from emr_autopilot.notifications import subject_line


def test_a_subject_never_holds_control_characters_or_line_breaks() -> None:
    """SNS API reference, Publish.Subject: "UTF-8 text with no line breaks or control characters, and less than 100
    characters long". A step name is user text and may hold any of them (found by the deep fuzz profile)."""
    # Given a subject built from a step name with an escape character, a tab and a line break
    text = "[emr-autopilot] STEP FAILED \x1bcount\trows\nagain 🚀"

    # When it is made a subject line
    subject = subject_line(text)

    # Then no control character is left, the words and the emoji are kept
    assert not [char for char in subject if unicodedata.category(char) == "Cc"]
    assert subject == "[emr-autopilot] STEP FAILED count rows again 🚀"


def test_a_long_subject_is_cut_below_100_characters() -> None:
    """Same constraint: less than 100 characters."""
    # Given a 300-character subject
    # When it is made a subject line
    subject = subject_line("x" * 300)

    # Then it is 99 characters, ending with an ellipsis
    assert len(subject) == 99
    assert subject.endswith("…")
