-- The hash of the PIN a user had before the live one (replaced, consumed
-- or revoked), so that a fresh PIN never repeats it.
ALTER TABLE activation_pins ADD COLUMN previous_pin_hash TEXT;
