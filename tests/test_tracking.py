"""Track ids: matching by overlap, surviving short misses, new ids after a real loss."""

from swapcam.core.tracking import TrackMatcher, box_iou


def test_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert abs(box_iou((0, 0, 10, 10), (5, 0, 15, 10)) - 1 / 3) < 1e-9


def test_ids_follow_boxes_and_survive_short_misses():
    m = TrackMatcher(max_missed=2)
    (a, new_a), (b, new_b) = m.match([(0, 0, 10, 10), (50, 0, 60, 10)])
    assert new_a and new_b and a != b
    # order swapped and moved a little: same ids
    assert m.match([(51, 0, 61, 10), (1, 0, 11, 10)]) == [(b, False), (a, False)]
    assert m.match([(2, 0, 12, 10)]) == [(a, False)]  # b missed one frame
    assert m.match([(2, 0, 12, 10), (52, 0, 62, 10)]) == [(a, False), (b, True)]  # b back: restarted
    for _ in range(3):
        m.match([(2, 0, 12, 10)])
    (c, new_c), _ = m.match([(52, 0, 62, 10), (2, 0, 12, 10)])
    assert new_c and c not in (a, b)  # b was gone too long: a new id
