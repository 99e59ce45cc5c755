# Sahaya's own words in English. Messages that address the customer select on $formality
# (`formal` is the default; `informal` is a little more casual, same warmth).
# Keep every line short: these frame a knowledge answer in a chat window or an email.
#
# Variables used below:
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

# Shown before a numbered list of suggested questions.
clarify-intro = { $formality ->
    [informal] Just to check — did you mean one of these?
   *[formal] I want to be sure I understood you. Did you mean one of these?
}

fallback = { $formality ->
    [informal] Sorry, I couldn't find an answer to that. Try asking another way, or just say if you'd like to talk to a person.
   *[formal] Sorry, I don't have an answer to that. Could you put it another way? If you prefer, you can ask to speak with one of our team.
}

# One sentence before an answer about a damaged, lost or late parcel.
empathy = { $formality ->
    [informal] Sorry to hear about the trouble with your parcel.
   *[formal] I'm sorry about the trouble with your parcel.
}

# For an upset customer, before the handoff: sincere, not grovelling.
empathy-angry = { $formality ->
    [informal] I can tell this has been really frustrating, and I'm sorry for the hassle.
   *[formal] I understand how frustrating this has been, and I'm sorry for the trouble it has caused.
}

## Handing over to a person

escalate = { $formality ->
    [informal] I'm handing your chat over to a colleague.
   *[formal] I'm passing your conversation to a colleague.
}

escalate-angry = { $formality ->
    [informal] I've passed this to a senior colleague, who'll look into it personally.
   *[formal] I've passed this to a senior colleague, who will look into it personally.
}

escalate-safety = { $formality ->
    [informal] I've flagged this as urgent for our safety team. If anyone is in danger, call the emergency number 112 now.
   *[formal] I've flagged this as urgent for our safety team. If anyone is in danger, please call the emergency number 112 now.
}

handoff-open = { $formality ->
    [informal] Someone from our team will join this chat shortly.
   *[formal] A member of our team will join this conversation shortly.
}

handoff-closed = { $formality ->
    [informal] Our team is offline right now; someone will pick up your chat { $when }.
   *[formal] Our team is not at work right now; a colleague will pick up your conversation { $when }.
}

handoff-holiday = { $formality ->
    [informal] We're closed today for { $holiday }; someone from the team will pick up your chat { $when }.
   *[formal] Today our offices are closed for { $holiday }; a colleague will pick up your conversation { $when }.
}

# Appended to an answer given outside business hours.
after-hours = { $formality ->
    [informal] The team is offline right now; if you still want to talk to a person, they're back { $when }.
   *[formal] Our team is offline right now; if you still need to speak with a person, they are back { $when }.
}

after-hours-holiday = { $formality ->
    [informal] We're closed today for { $holiday }; if you still want to talk to a person, the team is back { $when }.
   *[formal] Our offices are closed today for { $holiday }; if you still need to speak with a person, our team is back { $when }.
}

# The bot's only reply while a person has the conversation.
handoff-waiting = { $formality ->
    [informal] A colleague has your chat and will reply here, so no need to write again.
   *[formal] A colleague is handling your conversation and will reply here; there is no need to write again.
}

closing = { $formality ->
    [informal] Thanks for getting in touch with Nova Courier!
   *[formal] Thank you for contacting Nova Courier.
}

## Email

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

## When a person is back ($when): $time is 24-hour ("09:00"); $hour12 and $daypart are
## available too but not needed in English.

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
