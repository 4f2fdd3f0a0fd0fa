import pytest
from django.core import mail


@pytest.fixture
def mailed_path():
    """The site path of the last link in the outbox that contains `fragment`."""

    def find(fragment: str) -> str:
        for message in reversed(mail.outbox):
            for line in message.body.splitlines():
                if fragment in line:
                    line = line.strip()
                    return line[line.index(fragment) :]
        raise AssertionError(f"no email contains a {fragment} link")

    return find
