from setuptools import find_packages, setup

package_name = 'walkout_nodes'
NODES = [
    'shelf_sensor_node', 'shelf_event_node', 'camera_node', 'detection_node', 'tracker_node',
    'association_node', 'basket_node', 'checkout_node', 'bag_player', 'bag_recorder',
]

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='walkout maintainers',
    maintainer_email='maintainers@walkout.example.org',
    description='Thin rclpy nodes of the walkout store',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={'console_scripts': [f'{n} = walkout_nodes.{n}:main' for n in NODES]},
)
