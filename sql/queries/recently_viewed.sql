-- Artists viewed recently whose profile is stale (the quick sync), stalest first.
--
--   $1 viewed_within  interval  views that count (1 hour)
--   $2 stale_after    interval  profile age that calls for a refresh (6 hours)
--   $3 limit          int
select a.id::text as id
from artists a
where exists (select 1 from artist_views v where v.artist_id = a.id and v.viewed_at > now() - $1::interval)
  and (a.last_synced_at is null or a.last_synced_at < now() - $2::interval)
order by a.last_synced_at nulls first, a.id
limit $3::int
