// English messages of the console. Keys are grouped by page; every key here
// exists in lang-zh-CN.js and lang-ru.js too.
export default {
  'language.label': 'Language',
  // Holds and waitlists (issue 16).
  'holds.hold': 'Hold this slot',
  'holds.held': 'The place is held for you.',
  'holds.not_held': 'The slot was not held',
  'holds.title': 'Place held',
  'holds.until': 'Held until {when}.',
  'holds.left': '{time} left',
  'holds.expired': 'expired',
  'holds.ran_out': 'The hold ran out; the place was freed.',
  'holds.hint': 'Choose the declarations and the truck, then book: the held place becomes the booking.',
  'holds.release': 'Release the hold',
  'holds.released': 'Hold released.',
  'waitlist.join': 'Join the waitlist',
  'waitlist.joined': 'You are on the waitlist',
  'waitlist.not_joined': 'Not added to the waitlist',
  'waitlist.full_title': 'This slot is full',
  'waitlist.full_text': 'Join the waitlist for {slot}: when a place frees, it is held for you and shown here.',
  'waitlist.position': 'Position {n} in line',
  'waitlist.title': 'Your waitlist',
  'waitlist.offered': 'A place is offered to you:',
  'waitlist.book_offer': 'Book the offered place',
  'waitlist.withdraw': 'Leave the waitlist',
};
