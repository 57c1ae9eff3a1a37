-- The most active artists, least recently synced first (the recurring refresh).
--
--   $1 limit   int       how many artists (50)
--   $2 since   interval  how far back votes and views count (7 days)
--
-- activity = upcoming shows (billed, not cancelled) + votes on the artist's
-- songs since $2 + page views since $2. Artists without activity are left out.
with recent_votes as (
    select s.artist_id, count(*) as n
    from votes v join songs s on s.id = v.song_id
    where v.created_at > now() - $2::interval
    group by s.artist_id
),
recent_views as (
    select artist_id, count(*) as n from artist_views
    where viewed_at > now() - $2::interval
    group by artist_id
),
upcoming as (
    select sa.artist_id, count(*) as n
    from show_artists sa join shows sh on sh.id = sa.show_id
    where sh.date >= current_date and sh.status <> 'cancelled'
    group by sa.artist_id
),
active as (
    select a.id, a.last_synced_at,
           coalesce(up.n, 0) + coalesce(rv.n, 0) + coalesce(vw.n, 0) as activity
    from artists a
    left join upcoming up on up.artist_id = a.id
    left join recent_votes rv on rv.artist_id = a.id
    left join recent_views vw on vw.artist_id = a.id
    where coalesce(up.n, 0) + coalesce(rv.n, 0) + coalesce(vw.n, 0) > 0
    order by activity desc, a.id
    limit $1::int
)
select id::text as id, activity, last_synced_at from active
order by last_synced_at nulls first, activity desc, id
