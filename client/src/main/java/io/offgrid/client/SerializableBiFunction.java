package io.offgrid.client;

import java.io.Serializable;
import java.util.function.BiFunction;

/**
 * A two-argument function that can be shipped to workers.
 *
 * @param <T> first argument type.
 * @param <U> second argument type.
 * @param <R> result type.
 */
@FunctionalInterface
public interface SerializableBiFunction<T, U, R> extends BiFunction<T, U, R>, Serializable
{
}
