# Sahaya's own words in English. Messages that address the customer select on $formality.

clarify-intro = { $formality ->
    [informal] Just to check — did you mean one of these?
   *[formal] I want to be sure I understood you. Did you mean one of these?
}

fallback = { $formality ->
    [informal] Sorry, I couldn't find an answer to that. Try asking another way, or just say if you'd like to talk to a person.
   *[formal] Sorry, I don't have an answer to that. Could you put it another way? If you prefer, you can ask to speak with one of our team.
}
