<?php
/**
 * Plugin Name:       Moderation Service
 * Description:       Sends each new comment to your self-hosted moderation service, which publishes it, holds it for moderation or files it as spam; decisions made on either side reach the other.
 * Version:           1.1.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            The moderation service developers
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       moderation-service
 *
 * @package ModerationService
 */

/*
 * Copyright (C) the moderation service developers.
 *
 * This program is free software; you can redistribute it and/or modify it under the terms of
 * the GNU General Public License as published by the Free Software Foundation; either version 2
 * of the License, or (at your option) any later version.
 *
 * This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY;
 * without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See
 * the GNU General Public License (the LICENSE file beside this one) for more details.
 */

defined( 'ABSPATH' ) || exit;

define( 'MODERATION_SERVICE_VERSION', '1.1.0' );
define( 'MODERATION_SERVICE_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-settings.php';
require_once __DIR__ . '/includes/class-client.php';
require_once __DIR__ . '/includes/class-comments.php';
require_once __DIR__ . '/includes/class-webhook.php';
require_once __DIR__ . '/includes/class-admin.php';

Moderation_Service_Comments::register();
Moderation_Service_Webhook::register();
if ( is_admin() ) {
	Moderation_Service_Admin::register();
}

register_activation_hook( __FILE__, array( 'Moderation_Service_Comments', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'Moderation_Service_Comments', 'deactivate' ) );
