"""The item models (EASE, DLAE): closed forms on a tiny matrix, the cut to the most-liked movies, pruning."""

import numpy as np
import pytest
import scipy.sparse as sp

from scheduler.item_model import QUANTUM, ItemModelParams, fit_item_model, gram, most_liked

# 7 users x 5 movies; likes per movie 4, 5, 4, 5, 0 (movie 4 liked by nobody)
LIKED = np.array(
    [
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [1, 0, 1, 1, 0],
        [1, 1, 0, 1, 0],
        [0, 0, 1, 1, 0],
        [0, 1, 0, 1, 0],
    ],
    dtype=np.float32,
)


def direct_ease(x: np.ndarray, lam: float) -> np.ndarray:
    """Steck 2019, eq. 8, straight from the paper: B = I - P diagMat(1 / diag(P))."""
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p / np.diag(p)


def test_weights_equal_a_direct_numpy_solve() -> None:
    model = fit_item_model(sp.csr_matrix(LIKED), ItemModelParams(lam=0.5, movies=10, k=10, model="ease"))
    expected = direct_ease(LIKED[:, :4].astype(np.float64), 0.5)
    got = np.zeros((5, 5))
    got[model.table.movie, model.table.neighbour] = model.table.similarity
    np.testing.assert_allclose(got[:4, :4], expected, atol=QUANTUM)
    assert not got[4].any() and not got[:, 4].any()  # liked by nobody: outside the solve
    assert np.all(np.round(model.table.similarity / QUANTUM) * QUANTUM == model.table.similarity)
    assert model.liked_share == 1.0
    # co_likes are the Gram matrix's off-diagonal counts
    gram = LIKED.T @ LIKED
    np.testing.assert_array_equal(model.table.co_likes, gram[model.table.movie, model.table.neighbour])


def direct_dlae(x: np.ndarray, lam: float, p: float) -> np.ndarray:
    """Steck 2020 ("Autoencoders that don't overfit towards the identity"), eq. 8:
    B = (XᵀX + Λ)⁻¹ XᵀX with Λ = p / (1 - p) · diagMat(diag(XᵀX)) + λI."""
    g = x.T @ x
    penalty = np.diag(p / (1 - p) * np.diag(g) + lam)
    return np.linalg.solve(g + penalty, g)


def test_dlae_weights_equal_the_papers_closed_form_off_the_diagonal() -> None:
    model = fit_item_model(sp.csr_matrix(LIKED), ItemModelParams(lam=0.5, movies=10, k=10, dropout=0.3))
    expected = direct_dlae(LIKED[:, :4].astype(np.float64), 0.5, 0.3)
    np.fill_diagonal(expected, 0.0)  # a user's own movies are never recommended: not stored
    got = np.zeros((5, 5))
    got[model.table.movie, model.table.neighbour] = model.table.similarity
    np.testing.assert_allclose(got[:4, :4], expected, atol=QUANTUM)
    assert not np.allclose(expected, direct_ease(LIKED[:, :4].astype(np.float64), 0.5), atol=0.01)


def test_the_solve_covers_the_most_liked_movies_only() -> None:
    liked = sp.csr_matrix(LIKED)
    assert most_liked(liked, 2).tolist() == [1, 3]
    assert most_liked(liked, 3).tolist() == [0, 1, 3]  # ties: the lower index
    model = fit_item_model(liked, ItemModelParams(lam=0.5, movies=2, k=10, model="ease"))
    assert set(model.table.movie.tolist()) | set(model.table.neighbour.tolist()) <= {1, 3}
    inside = LIKED[:, [1, 3]]
    np.testing.assert_allclose(
        model.table.similarity, direct_ease(inside.astype(np.float64), 0.5)[[0, 1], [1, 0]], atol=QUANTUM
    )
    assert model.liked_share == inside.sum() / LIKED.sum()


def test_pruning_keeps_the_largest_magnitudes_negative_ones_included() -> None:
    full = direct_ease(LIKED[:, :4].astype(np.float64), 0.5)
    model = fit_item_model(sp.csr_matrix(LIKED), ItemModelParams(lam=0.5, movies=10, k=2, model="ease"))
    for movie in range(4):
        row = model.table.movie == movie
        off = np.abs(np.delete(full[movie], movie))
        kept = np.abs(model.table.similarity[row])
        np.testing.assert_allclose(np.sort(kept), np.sort(off)[-2:], atol=QUANTUM)
        # ranked by weight, descending
        assert model.table.rank[row].tolist() == [1, 2]
        assert model.table.similarity[row][0] >= model.table.similarity[row][1]
    assert (model.table.similarity > 0).all()  # here the negative weights are the smallest ones
    everything = fit_item_model(sp.csr_matrix(LIKED), ItemModelParams(lam=0.5, movies=10, k=3, model="ease"))
    negative = everything.table.similarity < 0
    assert negative.sum() == 4  # kept when k allows, ranked after the positive ones
    assert everything.table.rank[negative].tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize("threads", [1, 3])
def test_the_gram_matrix_is_exact_in_slices_and_threads(threads: int) -> None:
    rng = np.random.default_rng(5)
    x = (rng.random((300, 37)) < 0.2).astype(np.float32)
    counts = gram(sp.csr_matrix(x), threads)  # GRAM_PARTS x threads slices of rows
    assert counts.dtype == np.float64
    np.testing.assert_array_equal(counts, x.T.astype(np.float64) @ x)
