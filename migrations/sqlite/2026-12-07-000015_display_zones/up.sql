-- Time zones shown beside a site's official one (Chinese customs keep
-- Beijing time; drivers read Urumqi's or Almaty's): a comma-separated list
-- of IANA names, at most three, checked by the API; '' = none.
ALTER TABLE sites ADD COLUMN display_zones TEXT NOT NULL DEFAULT '';
