"""django-allauth's own Chinese catalogue keeps English words in some of its sentences
("Email地址", "来自…的 Hello!", "token"). Our catalogue is read before allauth's, so it
carries our words for these messages; listing them here keeps them in it when
`make messages` rebuilds it from our sources. The messages are allauth's, word for word.
"""

from django.utils.translation import gettext_noop

ALLAUTH_MESSAGES = (
    gettext_noop("Verify Your Email Address"),
    gettext_noop("Confirm Email Address"),
    gettext_noop("Please Confirm Your Email Address"),
    gettext_noop("Hello from %(site_name)s!"),
    gettext_noop("Email Addresses"),
    gettext_noop("Email Address"),
    gettext_noop("The following email addresses are associated with your account:"),
    gettext_noop("Primary"),
    gettext_noop("Re-send Verification"),
    gettext_noop("Add Email Address"),
    gettext_noop("Add Email"),
    gettext_noop("Do you really want to remove the selected email address?"),
    gettext_noop("Email Changed"),
    gettext_noop("Your email has been confirmed."),
    gettext_noop("Email Confirmation"),
    gettext_noop("Email address %(deleted_email)s has been removed from your account."),
    gettext_noop("Email Removed"),
    gettext_noop("Current email"),
    gettext_noop("Change Email"),
    gettext_noop("You cannot remove your primary email address (%(email)s)."),
    gettext_noop("You have confirmed %(email)s."),
    gettext_noop("Removed email address %(email)s."),
    gettext_noop("Primary email address set."),
    gettext_noop("The password reset token was invalid."),
    gettext_noop("Bad Token"),
    gettext_noop("Username or email"),
    gettext_noop("Your account has no verified email address."),
)
