-- The artist page document the web app reads from the cache (one JSON object).
--
--   $1 artist id (uuid)
--
-- artist: the row's public fields; counts: songs (studio, current), upcoming
-- shows, setlists, votes; upcomingShows: the next 20 (date, time, venue);
-- topSongs: the 10 most voted songs, then the most popular.
select jsonb_build_object(
    'artist', jsonb_build_object(
        'id', a.id, 'slug', a.slug, 'name', a.name, 'imageUrl', a.image_url, 'genres', to_jsonb(a.genres),
        'popularity', a.popularity, 'followers', a.followers, 'spotifyId', a.spotify_id,
        'tmAttractionId', a.tm_attraction_id, 'isTrending', a.is_trending, 'trendingRank', a.trending_rank,
        'trendingScore', a.trending_score, 'updatedAt', a.updated_at),
    'counts', jsonb_build_object(
        'songs', (select count(*) from songs s where s.artist_id = a.id and s.catalog_removed_at is null),
        'upcomingShows', (select count(*) from show_artists sa join shows sh on sh.id = sa.show_id
                          where sa.artist_id = a.id and sh.date >= current_date and sh.status <> 'cancelled'),
        'setlists', (select count(*) from setlists sl where sl.artist_id = a.id),
        'votes', (select count(*) from votes v join songs s on s.id = v.song_id where s.artist_id = a.id)),
    'upcomingShows', coalesce((
        select jsonb_agg(x order by x->>'date', x->>'time', x->>'id')
        from (select jsonb_build_object('id', sh.id, 'name', sh.name, 'date', sh.date, 'time', sh.time,
                                        'status', sh.status, 'url', sh.url,
                                        'venue', case when v.id is null then null else jsonb_build_object(
                                            'id', v.id, 'name', v.name, 'city', v.city, 'country', v.country) end) as x
              from show_artists sa
              join shows sh on sh.id = sa.show_id
              left join venues v on v.id = sh.venue_id
              where sa.artist_id = a.id and sh.date >= current_date and sh.status <> 'cancelled'
              order by sh.date, sh.time nulls last, sh.id
              limit 20) upcoming), '[]'::jsonb),
    'topSongs', coalesce((
        select jsonb_agg(x order by (x->>'votes')::int desc, (x->>'popularity')::int desc nulls last, x->>'id')
        from (select jsonb_build_object('id', s.id, 'name', s.name, 'album', s.album, 'popularity', s.popularity,
                                        'votes', (select count(*) from votes v where v.song_id = s.id)) as x
              from songs s
              where s.artist_id = a.id and s.catalog_removed_at is null
              order by (select count(*) from votes v where v.song_id = s.id) desc, s.popularity desc nulls last, s.id
              limit 10) top), '[]'::jsonb)
)
from artists a
where a.id = $1::uuid
