//! Row packing: intervals placed on the fewest rows so that no two on one row overlap (first free row, in order
//! of start), so Backups alive at once stand one above the other.

/// The row of each interval `(from, until)` (`until` exclusive), given in order of `from`.
pub fn pack(intervals: &[(i64, i64)]) -> Vec<usize> {
    let mut row_free_at: Vec<i64> = Vec::new();
    intervals
        .iter()
        .map(|&(from, until)| {
            let row = match row_free_at.iter().position(|&free| free <= from) {
                Some(r) => r,
                None => {
                    row_free_at.push(i64::MIN);
                    row_free_at.len() - 1
                }
            };
            row_free_at[row] = until.max(from);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn intervals_alive_at_once_get_rows_of_their_own_and_rows_are_reused() {
        assert_eq!(pack(&[(0, 10), (5, 15), (10, 20), (16, 30)]), vec![0, 1, 0, 1]);
    }

    proptest! {
        #[test]
        fn no_two_intervals_on_one_row_overlap_and_rows_never_exceed_the_most_alive_at_once(
            mut raw in proptest::collection::vec((0i64..1000, 1i64..200), 0..60)
        ) {
            raw.sort();
            let intervals: Vec<(i64, i64)> = raw.iter().map(|&(f, len)| (f, f + len)).collect();
            let rows = pack(&intervals);
            for i in 0..intervals.len() {
                for j in i + 1..intervals.len() {
                    if rows[i] == rows[j] {
                        prop_assert!(intervals[i].1 <= intervals[j].0 || intervals[j].1 <= intervals[i].0);
                    }
                }
            }
            let most_alive = intervals
                .iter()
                .map(|&(f, _)| intervals.iter().filter(|&&(g, u)| g <= f && f < u).count())
                .max()
                .unwrap_or(0);
            prop_assert_eq!(rows.iter().map(|r| r + 1).max().unwrap_or(0), most_alive);
        }
    }
}
