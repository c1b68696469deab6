/** Helpers shared by Courier's packages. Not API: they may change in any release. */
package dev.courier.internal;
