package io.offgrid.client;

import java.io.Serializable;
import java.util.function.Predicate;

/**
 * A predicate that can be shipped to workers ({@link Bag#filter}).
 *
 * @param <T> argument type.
 */
@FunctionalInterface
public interface SerializablePredicate<T> extends Predicate<T>, Serializable
{
}
