# Sahaya's own words in English. Messages that address the customer select on $formality
# (`formal` is the default; `informal` is a little more casual, same warmth).
# Keep every line short: these frame a knowledge answer in a chat window or an email.
# Sahaya speaks as "I" for what it does itself (finding an answer, passing a conversation on)
# and as "we" for the company (apologies, promises, opening hours).
#
# Variables used below:
#   $channel  chat | email | sms: select on it wherever the channel changes the meaning
#             (nobody "joins" an email, and "here" in an email is the email)
#   $part     morning | afternoon | evening | night (customer's local time of day)
#   $name     the customer's name as given
#   $when     a rendered when-today / when-tomorrow / when-date
#   $holiday  the holiday's name, e.g. "Clean Monday"
#   $count    a number (plural select)

## Greetings

# Opening line of a conversation. Night (22:00–05:00) has no greeting of its own: "Hello".
greeting = { $formality ->
    [informal] Hi!
   *[formal] { $part ->
        [morning] Good morning!
        [afternoon] Good afternoon!
        [evening] Good evening!
       *[other] Hello!
    }
}

greeting-name = { $formality ->
    [informal] Hi { $name }!
   *[formal] { $part ->
        [morning] Good morning, { $name }!
        [afternoon] Good afternoon, { $name }!
        [evening] Good evening, { $name }!
       *[other] Hello, { $name }!
    }
}

## Around an answer

answer-closing = { $formality ->
    [informal] Anything else I can help with?
   *[formal] Is there anything else I can help you with?
}

# Shown before a numbered list of suggested questions. In an email the customer cannot pick
# one: a colleague reads the email anyway (the reply time follows the list).
clarify-intro = { $channel ->
    [email] { $formality ->
        [informal] I couldn't tell for sure what your question is about. Is it one of these?
       *[formal] I could not tell for certain what your question is about. Is it one of these?
    }
   *[other] { $formality ->
        [informal] Just to check — did you mean one of these?
       *[formal] I want to be sure I understood you. Did you mean one of these?
    }
}

# In an email, nobody can "ask another way" in the same conversation: a person reads it.
fallback = { $channel ->
    [email] { $formality ->
        [informal] I couldn't find an automatic answer to your question, so one of the team will read your email.
       *[formal] I could not find an automatic answer to your question, so a colleague will read your email.
    }
   *[other] { $formality ->
        [informal] Sorry, I couldn't find an answer to that. Try asking another way, or just say if you'd like to talk to a person.
       *[formal] Sorry, I don't have an answer to that. Could you put it another way? If you prefer, you can ask to speak with one of our team.
    }
}

# One sentence before an answer about a damaged, lost or late parcel (when the answer does not
# already apologize).
empathy = { $formality ->
    [informal] Sorry to hear about the trouble with your parcel.
   *[formal] We're sorry about the trouble with your parcel.
}

# For an upset customer, before the handoff: sincere, not grovelling.
empathy-angry = { $formality ->
    [informal] I can tell this has been really frustrating, and we're sorry for the hassle.
   *[formal] I understand how frustrating this has been, and we're sorry for the trouble it has caused.
}

## Handing over to a person

# The escalate line says who takes over; handoff-open / handoff-closed then say only when and
# where they answer. In an email, email-reply-time stands for handoff-open.
escalate = { $channel ->
    [email] { $formality ->
        [informal] I've passed your email on to one of the team.
       *[formal] I have passed your email on to a colleague.
    }
   *[other] { $formality ->
        [informal] I'm handing your chat over to one of the team.
       *[formal] I'm passing your conversation to a colleague.
    }
}

escalate-angry = { $formality ->
    [informal] I've passed this to a senior colleague, who'll look into it personally.
   *[formal] I've passed this to a senior colleague, who will look into it personally.
}

escalate-safety = { $formality ->
    [informal] I've flagged this as urgent for our safety team. If anyone is in danger, call the emergency number 112 now.
   *[formal] I've flagged this as urgent for our safety team. If anyone is in danger, please call the emergency number 112 now.
}

# After the escalate line, in working hours (chat and SMS; not used in email).
handoff-open = { $formality ->
    [informal] You'll usually hear back here within a few minutes.
   *[formal] You will usually get a reply here within a few minutes.
}

handoff-closed = { $channel ->
    [email] { $formality ->
        [informal] We're closed right now and back { $when }.
       *[formal] Our offices are closed right now and open again { $when }.
    }
   *[other] { $formality ->
        [informal] The team is offline right now; they're back { $when } and will reply here.
       *[formal] Our team is not at work right now; they are back { $when } and will reply here.
    }
}

handoff-holiday = { $channel ->
    [email] { $formality ->
        [informal] We're closed today for { $holiday } and back { $when }.
       *[formal] Our offices are closed today for { $holiday } and open again { $when }.
    }
   *[other] { $formality ->
        [informal] We're closed today for { $holiday }; the team is back { $when } and will reply here.
       *[formal] Our offices are closed today for { $holiday }; our team is back { $when } and will reply here.
    }
}

# Appended to an answer given outside business hours.
after-hours = { $channel ->
    [email] { $formality ->
        [informal] We're closed right now and back { $when }.
       *[formal] Our offices are closed right now and open again { $when }.
    }
   *[other] { $formality ->
        [informal] The team is offline right now; if you still want to talk to a person, they're back { $when }.
       *[formal] Our team is offline right now; if you still need to speak with a person, they are back { $when }.
    }
}

after-hours-holiday = { $channel ->
    [email] { $formality ->
        [informal] We're closed today for { $holiday } and back { $when }.
       *[formal] Our offices are closed today for { $holiday } and open again { $when }.
    }
   *[other] { $formality ->
        [informal] We're closed today for { $holiday }; if you still want to talk to a person, the team is back { $when }.
       *[formal] Our offices are closed today for { $holiday }; if you still need to speak with a person, our team is back { $when }.
    }
}

# The bot's only reply while a person has the conversation.
handoff-waiting = { $channel ->
    [email] { $formality ->
        [informal] One of the team already has your request and will reply by email, so no need to write again.
       *[formal] A colleague is already handling your request and will reply by email; there is no need to write again.
    }
   *[other] { $formality ->
        [informal] One of the team has your chat and will reply here, so no need to write again.
       *[formal] A colleague is handling your conversation and will reply here; there is no need to write again.
    }
}

## Email

# The last line of an email before the sign-off (the thanks are in email-intro).
closing = { $formality ->
    [informal] Anything else? Just reply to this email.
   *[formal] If you have any further questions, simply reply to this email.
}

# Instead of closing when the email only greets, thanks or says goodbye (small talk).
closing-smalltalk = { $formality ->
    [informal] Need anything? Just reply to this email.
   *[formal] If there is anything we can help you with, simply reply to this email.
}

email-salutation = { $formality ->
    [informal] Hi,
   *[formal] Hello,
}

email-salutation-name = { $formality ->
    [informal] Hi { $name },
   *[formal] Dear { $name },
}

email-intro = { $formality ->
    [informal] Thanks for your email! This is an automatic reply.
   *[formal] Thank you for your email. This is an automatic reply.
}

# Instead of email-intro when the answer itself opens by thanking the customer: one thank-you
# per email.
email-intro-short = This is an automatic reply.

# When a person answers an email that was handed over or not answered automatically.
email-reply-time = { $formality ->
    [informal] { $count ->
        [one] We reply to every email within { $count } working day.
       *[other] We reply to every email within { $count } working days.
    }
   *[formal] { $count ->
        [one] We answer every email within { $count } working day.
       *[other] We answer every email within { $count } working days.
    }
}

email-signoff = { $formality ->
    [informal]
        Best wishes,
        Nova Courier Customer Support
   *[formal]
        Kind regards,
        Nova Courier Customer Support
}

## When a person is back ($when): $time is 24-hour ("09:00"); $hour12 ("9:00", "5:30") and
## $daypart (the part of the day a 12-hour time is said with: morning 04–11, afternoon 12–15,
## evening 16–18, night 19–03) are available too but not needed in English.

when-today = today at { $time }
when-tomorrow = tomorrow at { $time }
# "on Monday 30 November at 09:00"
when-date = on { $weekday } { $day } { $month } at { $time }

weekday-mon = Monday
weekday-tue = Tuesday
weekday-wed = Wednesday
weekday-thu = Thursday
weekday-fri = Friday
weekday-sat = Saturday
weekday-sun = Sunday

month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December

# The reply to a customer who asks for a different register and nothing else.
register-ok = { $formality ->
    [informal] Sure, let's keep it casual. What can I help you with?
   *[formal] Of course. How may I help you?
}
